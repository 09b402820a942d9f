//! Accounts and bearer sessions: `/api/auth/{signup,login,logout,session}` and the
//! [`AuthUser`] extractor every scoped endpoint takes.
//!
//! Passwords are hashed with Argon2id (PHC string, so the cost of old hashes travels with
//! them). Session tokens are 384 random bits, handed to the client once and stored only as
//! their SHA-256 digest, with an expiry and a revocation time.

use crate::params;
use crate::sql::{Connection, OptionalExtension};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use is_protocol::{validate_signup, LoginRequest, SessionResponse, SignupRequest, UserSummary};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::{from_micros, parse_uuid, to_micros};
use crate::error::{ApiError, Json};
use crate::{AppState, Config};

const BAD_CREDENTIALS: &str = "Wrong email or password";
const NOT_SIGNED_IN: &str = "Sign in to continue";

// ---------------------------------------------------------------------------------------
// Passwords and tokens

pub fn password_hasher(config: &Config) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(config.argon2_memory_kib, config.argon2_iterations, 1, None)
        .map_err(|e| anyhow::anyhow!("invalid Argon2 settings: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// An Argon2id PHC string for `password`, with a fresh random salt.
pub fn hash_password(config: &Config, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(Uuid::new_v4().as_bytes())
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let hash = password_hasher(config)?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        // The parameters come from the hash itself, not from the current config.
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A new session token: 384 bits from three v4 UUIDs' random bytes, as 96 hex digits.
pub fn new_token() -> String {
    let mut out = String::with_capacity(96);
    for _ in 0..3 {
        out.push_str(&Uuid::new_v4().simple().to_string());
    }
    out
}

/// What the database keeps instead of the token: its SHA-256, hex.
pub fn token_digest(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Emails are compared case-insensitively: stored trimmed and lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

// ---------------------------------------------------------------------------------------
// Storage

/// A user row with its password hash.
pub struct StoredUser {
    pub summary: UserSummary,
    pub password_hash: String,
}

/// Inserts a user. `email` must already be normalized. 409 `email_taken` if it exists.
pub fn create_user(
    conn: &Connection,
    email: &str,
    name: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<UserSummary, ApiError> {
    let id = Uuid::now_v7();
    match conn.execute(
        "INSERT INTO users (id, email, name, password_hash, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![id.to_string(), email, name, password_hash, to_micros(now)],
    ) {
        Ok(_) => Ok(UserSummary {
            id,
            email: email.to_owned(),
            name: name.to_owned(),
        }),
        Err(e) if e.is_unique_violation() => Err(ApiError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

pub fn find_user_by_email(
    conn: &Connection,
    email: &str,
) -> crate::sql::Result<Option<StoredUser>> {
    conn.query_row(
        "SELECT id, email, name, password_hash FROM users WHERE email = ?1",
        [email],
        |r| {
            Ok(StoredUser {
                summary: UserSummary {
                    id: parse_uuid(&r.get::<_, String>(0)?)?,
                    email: r.get(1)?,
                    name: r.get(2)?,
                },
                password_hash: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Starts a session for `user_id`; returns the token (shown to the client once) and its
/// expiry. Also forgets the user's sessions that expired long ago.
pub fn create_session(
    conn: &Connection,
    user_id: Uuid,
    ttl: chrono::Duration,
    now: DateTime<Utc>,
) -> crate::sql::Result<(String, DateTime<Utc>)> {
    let token = new_token();
    let expires_at = now + ttl;
    conn.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND expires_at < ?2",
        params![
            user_id.to_string(),
            to_micros(now - chrono::Duration::days(7))
        ],
    )?;
    conn.execute(
        "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            token_digest(&token),
            user_id.to_string(),
            to_micros(now),
            to_micros(expires_at)
        ],
    )?;
    Ok((token, expires_at))
}

/// The user of a live (unexpired, unrevoked) session.
pub fn session_user(
    conn: &Connection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> crate::sql::Result<Option<(UserSummary, DateTime<Utc>)>> {
    // Every signed-in request runs this: kept prepared.
    conn.prepare_cached(
        "SELECT u.id, u.email, u.name, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2",
    )?
    .query_row(params![token_hash, to_micros(now)], |r| {
        Ok((
            UserSummary {
                id: parse_uuid(&r.get::<_, String>(0)?)?,
                email: r.get(1)?,
                name: r.get(2)?,
            },
            from_micros(r.get(3)?)?,
        ))
    })
    .optional()
}

pub fn revoke_session(
    conn: &Connection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> crate::sql::Result<()> {
    conn.execute(
        "UPDATE sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
        params![token_hash, to_micros(now)],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The extractor

/// The signed-in user of a request (`Authorization: Bearer <token>`). Missing, malformed,
/// expired and revoked tokens are all 401 `unauthorized`.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user: UserSummary,
    pub token: String,
    pub token_hash: String,
    pub expires_at: DateTime<Utc>,
}

impl AuthUser {
    pub fn id(&self) -> Uuid {
        self.user.id
    }
}

fn bearer_token(parts: &Parts) -> Option<String> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then(|| token.to_owned())
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ApiError::Unauthorized(NOT_SIGNED_IN))?;
        let token_hash = token_digest(&token);
        let now = state.now();
        let lookup = token_hash.clone();
        let found = state
            .read(move |conn| Ok(session_user(conn, &lookup, now)?))
            .await?;
        match found {
            Some((user, expires_at)) => {
                if let Err(retry_after_secs) = state.user_limiter().check(&user.id.to_string(), now)
                {
                    return Err(ApiError::RateLimited { retry_after_secs });
                }
                Ok(AuthUser {
                    user,
                    token,
                    token_hash,
                    expires_at,
                })
            }
            None => Err(ApiError::Unauthorized(
                "Your session has expired or was signed out; sign in again",
            )),
        }
    }
}

/// Per-IP rate limit of sign-up and sign-in (a route layer). Without a known peer
/// address (in-process tests) every request shares one bucket.
pub async fn ip_rate_limit(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned());
    match state.ip_limiter().check(&ip, state.now()) {
        Ok(()) => next.run(req).await,
        Err(retry_after_secs) => ApiError::RateLimited { retry_after_secs }.into_response(),
    }
}

// ---------------------------------------------------------------------------------------
// Handlers

/// `POST /api/auth/signup` → 201 [`SessionResponse`].
pub async fn signup(
    State(state): State<AppState>,
    Json(req): Json<SignupRequest>,
) -> Result<impl IntoResponse, ApiError> {
    validate_signup(&req).map_err(ApiError::Validation)?;
    let email = normalize_email(&req.email);
    let name = req.name.trim().to_owned();

    // Cheap early answer for a taken email, before paying for the hash.
    let probe = email.clone();
    if state
        .read(move |conn| Ok(find_user_by_email(conn, &probe)?))
        .await?
        .is_some()
    {
        return Err(ApiError::EmailTaken);
    }

    let config = state.config().clone();
    let password = req.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&config, &password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::Internal)?;

    let now = state.now();
    let ttl = state.config().token_ttl;
    let session = state
        .run(move |conn| {
            let tx = conn.transaction()?;
            let user = create_user(&tx, &email, &name, &password_hash, now)?;
            let (token, expires_at) = create_session(&tx, user.id, ttl, now)?;
            tx.commit()?;
            Ok(SessionResponse {
                token,
                expires_at,
                user,
            })
        })
        .await?;
    tracing::info!(user = %session.user.id, "signed up");
    Ok((StatusCode::CREATED, axum::Json(session)))
}

/// `POST /api/auth/login` → [`SessionResponse`]; 401 for an unknown email or a wrong
/// password alike (same message, similar time).
pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> Result<axum::Json<SessionResponse>, ApiError> {
    let email = normalize_email(&req.email);
    let user = state
        .read(move |conn| Ok(find_user_by_email(conn, &email)?))
        .await?;
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => state.dummy_hash().to_owned(),
    };
    let password = req.password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if matches => u.summary,
        _ => return Err(ApiError::Unauthorized(BAD_CREDENTIALS)),
    };
    let now = state.now();
    let ttl = state.config().token_ttl;
    let user_id = user.id;
    let (token, expires_at) = state
        .run(move |conn| Ok(create_session(conn, user_id, ttl, now)?))
        .await?;
    Ok(axum::Json(SessionResponse {
        token,
        expires_at,
        user,
    }))
}

/// `POST /api/auth/logout` → 204; the token stops working at once.
pub async fn logout(State(state): State<AppState>, auth: AuthUser) -> Result<StatusCode, ApiError> {
    let now = state.now();
    state
        .run(move |conn| Ok(revoke_session(conn, &auth.token_hash, now)?))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/auth/session` → the current session.
pub async fn session(auth: AuthUser) -> axum::Json<SessionResponse> {
    axum::Json(SessionResponse {
        token: auth.token,
        expires_at: auth.expires_at,
        user: auth.user,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_roundtrip_and_salt() {
        let config = Config::for_tests("unused");
        let a = hash_password(&config, "correct horse").unwrap();
        let b = hash_password(&config, "correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password(&a, "correct horse"));
        assert!(!verify_password(&a, "correct horse!"));
        assert!(!verify_password("garbage", "correct horse"));
    }

    #[test]
    fn configured_cost_is_used() {
        let mut config = Config::for_tests("unused");
        config.argon2_memory_kib = 64;
        config.argon2_iterations = 3;
        let h = hash_password(&config, "pw-pw-pw-pw").unwrap();
        assert!(h.contains("m=64,t=3,p=1"), "{h}");
        config.argon2_memory_kib = 1; // below Argon2's minimum
        assert!(password_hasher(&config).is_err());
    }

    #[test]
    fn tokens_are_long_random_and_digested() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 96);
        assert_ne!(a, b);
        let d = token_digest(&a);
        assert_eq!(d.len(), 64);
        assert_ne!(d, a);
        assert_eq!(d, token_digest(&a));
        // Known SHA-256 vector.
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn email_normalization() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
    }
}
