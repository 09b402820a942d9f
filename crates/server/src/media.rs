//! Generated media: hero avatars (PNG), story audio (WAV) and story illustrations (PNG),
//! made on background tasks and delivered through the change feed; and
//! `GET /api/media/{name}`, which serves them with `Content-Length`, a strong `ETag`,
//! `If-None-Match` (304) and `Range` (206, 416).
//!
//! Files live in the media directory under names made from server-generated ids
//! (`<uuid>.png`, `<uuid>.wav`), never from user input. A media URL is relative to the
//! server (`/api/media/<name>`) and is served only with the owner's bearer token; any
//! other user gets 404, exactly like a missing file.

use std::io::Write;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::params;
use crate::sql::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use is_protocol::{
    codes, ErrorBody, GenerationStatus, Hero, HeroRecord, HeroServer, IllustrationsRequest,
    MediaJob, MediaKind, Story, StoryRecord, StoryServer, ILLUSTRATIONS_MAX,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::Notify;
use uuid::Uuid;

use is_protocol::media::{etag_of_digest, parse_range, RangeCheck};

use crate::auth::AuthUser;
use crate::db::to_micros;
use crate::error::{error_response, parse_json, ApiError, Path};
use crate::illustration_store::{self, PendingIllustration};
use crate::imaging::{self, seed_of};
use crate::table::{self, Table};
use crate::usage::{self, Reservation, UsageKind};
use crate::{audio, AppState};

// ---------------------------------------------------------------------------------------
// Background jobs

/// Counts the media jobs in flight, so tests (and shutdown) can wait for them.
#[derive(Debug, Default)]
pub struct Jobs {
    running: AtomicUsize,
    idle: Notify,
}

/// Held by a running job; dropping it marks the job done.
pub struct JobGuard(Arc<Jobs>);

impl Drop for JobGuard {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Jobs {
    pub fn start(self: &Arc<Self>) -> JobGuard {
        self.running.fetch_add(1, Ordering::SeqCst);
        JobGuard(self.clone())
    }

    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Resolves once no job is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.running() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Runs `work` on the blocking pool as a tracked background job, logging failures.
fn spawn_job(
    state: &AppState,
    what: &'static str,
    work: impl FnOnce() -> anyhow::Result<()> + Send + 'static,
) {
    let guard = state.jobs().start();
    tokio::spawn(async move {
        let _guard = guard;
        match tokio::task::spawn_blocking(work).await {
            Ok(Ok(())) => tracing::debug!(what, "media job done"),
            Ok(Err(e)) => tracing::error!(what, error = %format!("{e:#}"), "media job failed"),
            Err(e) => tracing::error!(what, error = %e, "media job panicked"),
        }
    });
}

/// A usage reservation held by a running media job. The job marks what it delivered
/// with [`UsageHold::delivered`]; when the hold is dropped (the job ended, failed or
/// panicked) the rest of the reservation goes back to the user's monthly allowance.
struct UsageHold {
    state: AppState,
    reservation: Reservation,
    delivered: f64,
}

impl UsageHold {
    fn delivered(&mut self, amount: f64) {
        self.delivered += amount;
    }
}

impl Drop for UsageHold {
    fn drop(&mut self) {
        if self.delivered >= self.reservation.amount {
            return;
        }
        let (reservation, used) = (self.reservation, self.delivered);
        if let Err(e) = self
            .state
            .with_conn(|conn| usage::settle(conn, &reservation, used))
        {
            tracing::error!(error = %e, "cannot give back unused usage");
        }
    }
}

/// Starts a media job that counts toward a monthly limit. In one transaction, `prepare`
/// reads (and may write) what the job needs and says how much of `kind` it will use,
/// and that amount is reserved (403 `limit_reached` if it would pass the limit; nothing
/// `prepare` wrote is kept then). The job then runs with the reservation; what it does
/// not deliver is given back.
///
/// The reservation and the start of the job happen together on the writer connection, so
/// a request abandoned half way (the client went away) cannot leave a reservation
/// without its job. Returns `prepare`'s answer for the response.
async fn start_metered_job<J, A>(
    state: &AppState,
    what: &'static str,
    user: Uuid,
    kind: UsageKind,
    prepare: impl FnOnce(&Transaction<'_>) -> Result<(f64, J, A), ApiError> + Send + 'static,
    work: impl FnOnce(J, &mut UsageHold) -> anyhow::Result<()> + Send + 'static,
) -> Result<A, ApiError>
where
    J: Send + 'static,
    A: Send + 'static,
{
    let limits = state.config().tier_limits.clone();
    let now = state.now();
    let job_state = state.clone();
    state
        .run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (amount, job, answer) = prepare(&tx)?;
            let reservation = usage::reserve(&tx, user, kind, amount, &limits, now)?;
            tx.commit()?;
            let mut hold = UsageHold {
                state: job_state.clone(),
                reservation,
                delivered: 0.0,
            };
            spawn_job(&job_state, what, move || work(job, &mut hold));
            Ok(answer)
        })
        .await
}

// ---------------------------------------------------------------------------------------
// Files

/// The URL of a media file, relative to the server's base URL.
pub fn media_url(name: &str) -> String {
    format!("/api/media/{name}")
}

/// A writer that hashes what passes through it.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A file written to the media directory (renamed into place once complete).
pub struct WrittenFile {
    pub name: String,
    pub size: u64,
    pub etag: String,
}

/// Writes `name` in `dir` through `fill`, to a temporary file renamed into place.
fn write_media(
    dir: &FsPath,
    name: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<WrittenFile> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let file = std::fs::File::create(&tmp)?;
    let mut w = HashingWriter {
        inner: std::io::BufWriter::new(file),
        hash: Sha256::new(),
    };
    fill(&mut w)?;
    w.flush()?;
    let digest = w.hash.finalize();
    let file = w.inner.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    let size = file.metadata()?.len();
    drop(file);
    std::fs::rename(&tmp, dir.join(name))?;
    Ok(WrittenFile {
        name: name.to_owned(),
        size,
        etag: etag_of_digest(&digest),
    })
}

fn insert_media_row(
    conn: &Connection,
    user_id: Uuid,
    owner_id: Uuid,
    file: &WrittenFile,
    content_type: &str,
    now: DateTime<Utc>,
) -> crate::sql::Result<()> {
    conn.execute(
        "INSERT INTO media_files (name, user_id, owner_id, content_type, size, etag, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            file.name,
            user_id.to_string(),
            owner_id.to_string(),
            content_type,
            file.size as i64,
            file.etag,
            to_micros(now),
        ],
    )?;
    Ok(())
}

/// Makes `file` the media of the user's live row `id` of `E`: `set` puts its URL in the
/// row's server-written fields (a new version, in the change feed) and the file is
/// recorded as the row's, in one transaction. When the row is gone or a tombstone by
/// now, nothing is written, the file is removed and the answer is `false`.
fn attach_media<E: Table>(
    state: &AppState,
    user: Uuid,
    id: Uuid,
    file: &WrittenFile,
    content_type: &str,
    set: impl FnOnce(&mut E::Server, String) + Send,
) -> anyhow::Result<bool> {
    let now = state.now();
    let stored = state.with_conn(|conn| -> anyhow::Result<bool> {
        let tx = conn.transaction()?;
        let url = media_url(&file.name);
        if table::write_server::<E>(&tx, user, id, now, |s| set(s, url))?.is_none() {
            return Ok(false);
        }
        insert_media_row(&tx, user, id, file, content_type, now)?;
        tx.commit()?;
        Ok(true)
    })?;
    if !stored {
        remove_quietly(&state.media_dir(), &file.name);
    }
    Ok(stored)
}

fn remove_quietly(dir: &FsPath, name: &str) {
    if let Err(e) = std::fs::remove_file(dir.join(name)) {
        tracing::warn!(file = name, error = %e, "cannot remove an unused media file");
    }
}

// ---------------------------------------------------------------------------------------
// Avatars

/// `POST /api/heroes/{id}/avatar` → 202 [`MediaJob`]. The PNG (256×256, drawn from the
/// hero's name, traits and appearance) then sets the hero's `avatar_url` and
/// `avatar_generation_id` (a new version, in the change feed).
pub async fn generate_avatar(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let hero = state
        .read(move |conn| Ok(table::get::<Hero>(conn, user, id)?))
        .await?
        .filter(|h| !h.deleted)
        .ok_or_else(|| ApiError::NotFound("No such hero".to_owned()))?;
    let generation_id = Uuid::now_v7();
    let job_state = state.clone();
    spawn_job(&state, "avatar", move || {
        draw_avatar(&job_state, user, &hero, generation_id)
    });
    Ok(accepted(MediaKind::Avatar, generation_id, id, Vec::new()))
}

/// Draws a hero's avatar and makes it the hero's (the job of [`generate_avatar`]; also
/// the demo data's).
pub fn draw_avatar(
    state: &AppState,
    user: Uuid,
    hero: &HeroRecord,
    generation_id: Uuid,
) -> anyhow::Result<()> {
    let traits: Vec<&str> = hero.traits.iter().map(|t| t.as_str()).collect();
    let seed = seed_of(&["avatar", &hero.name, &traits.join(","), &hero.appearance]);
    let png = imaging::avatar(seed, hero.traits.len()).to_png();
    let name = format!("{generation_id}.png");
    let file = write_media(&state.media_dir(), &name, |w| w.write_all(&png))?;
    let set = |s: &mut HeroServer, url| {
        s.avatar_url = Some(url);
        s.avatar_generation_id = Some(generation_id.to_string());
    };
    attach_media::<Hero>(state, user, hero.id, &file, "image/png", set).map(|_| ())
}

/// 202 with the [`MediaJob`] just started.
fn accepted(
    kind: MediaKind,
    generation_id: Uuid,
    target_id: Uuid,
    illustration_ids: Vec<Uuid>,
) -> Response {
    let job = MediaJob {
        generation_id,
        kind,
        target_id,
        status: GenerationStatus::Pending,
        illustration_ids,
    };
    (StatusCode::ACCEPTED, axum::Json(job)).into_response()
}

/// The user's live story `id`, read inside a transaction; 404 if there is none.
fn live_story(tx: &Transaction<'_>, user: Uuid, id: Uuid) -> Result<StoryRecord, ApiError> {
    table::get::<Story>(tx, user, id)?
        .filter(|s| !s.deleted)
        .ok_or_else(|| ApiError::NotFound("No such story".to_owned()))
}

// ---------------------------------------------------------------------------------------
// Audio

/// `POST /api/stories/{id}/audio` → 202 [`MediaJob`]. The WAV (16-bit PCM mono,
/// 16 kHz, a gentle generated melody lasting as long as reading the text at ~150 words
/// per minute) then sets the story's `audio_url` and `audio_duration`. Counts toward the
/// monthly audio minutes (403 `limit_reached` when they are used up).
pub async fn generate_audio(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.id();
    let generation_id = Uuid::now_v7();
    let job_state = state.clone();
    let prepare = move |tx: &Transaction<'_>| {
        let story = live_story(tx, user, id)?;
        let samples = audio::sample_count(audio::word_count(&story.content));
        let minutes = audio::duration_secs(samples) / 60.0;
        Ok((minutes, (story, samples), ()))
    };
    let work = move |(story, samples): (StoryRecord, u32), hold: &mut UsageHold| {
        let duration = audio::duration_secs(samples);
        let seed = seed_of(&["audio", story.language.as_str(), &story.content]);
        let dir = job_state.media_dir();
        let name = format!("{generation_id}.wav");
        let file = write_media(&dir, &name, |w| {
            audio::write_wav(w, seed, samples).map(|_| ())
        })?;
        let set = |s: &mut StoryServer, url| {
            s.audio_url = Some(url);
            s.audio_duration = Some(duration);
        };
        if attach_media::<Story>(&job_state, user, id, &file, "audio/wav", set)? {
            hold.delivered(duration / 60.0);
        }
        Ok(())
    };
    start_metered_job(
        &state,
        "audio",
        user,
        UsageKind::AudioMinutes,
        prepare,
        work,
    )
    .await?;
    Ok(accepted(MediaKind::Audio, generation_id, id, Vec::new()))
}

// ---------------------------------------------------------------------------------------
// Illustrations

/// How many illustrations a story gets when the request does not say: one per ~120
/// words, 1 to 5.
pub fn default_illustration_count(content: &str) -> u8 {
    (audio::word_count(content) / 120 + 1).clamp(1, ILLUSTRATIONS_MAX as usize) as u8
}

/// What illustration `index` of `count` shows: the first sentence of the matching part
/// of the story.
pub fn illustration_prompt(story: &StoryRecord, index: usize, count: usize) -> String {
    let paragraphs: Vec<&str> = story
        .content
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let p = paragraphs
        .get(index * paragraphs.len() / count.max(1))
        .copied()
        .unwrap_or(story.content.as_str());
    let end = p.find(['.', '!', '?']).map_or(p.len(), |i| i + 1);
    let sentence: String = p[..end].chars().take(200).collect();
    format!("Illustration for \"{}\": {}", story.title, sentence.trim())
}

/// `POST /api/stories/{id}/illustrations` with an optional [`IllustrationsRequest`] →
/// 202 [`MediaJob`] listing the new illustration ids. The story's previous
/// illustrations become tombstones; the new ones appear at once as `pending` and move
/// to `ready` (with `image_url`) as each PNG is made. Timestamps are spread over the
/// audio (or the estimated reading time). Counts toward the monthly illustrations.
pub async fn generate_illustrations(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<Uuid>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: IllustrationsRequest = if body.iter().all(u8::is_ascii_whitespace) {
        IllustrationsRequest::default()
    } else {
        parse_json(&body)?
    };
    req.validate().map_err(ApiError::Validation)?;
    let user = auth.id();
    let now = state.now();
    let prepare = move |tx: &Transaction<'_>| {
        let story = live_story(tx, user, id)?;
        let items = pending_illustrations(&story, req.count);
        illustration_store::replace_with_pending(tx, user, id, &items, now)?;
        let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
        Ok((items.len() as f64, (story, items), ids))
    };
    let job_state = state.clone();
    let work = move |(story, items): (StoryRecord, Vec<PendingIllustration>),
                     hold: &mut UsageHold| {
        let seed = seed_of(&["illustration", &story.title, &story.content]);
        let dir = job_state.media_dir();
        for item in items {
            let name = format!("{}.png", item.id);
            let png = imaging::illustration(seed, item.display_order).to_png();
            let written = write_media(&dir, &name, |w| w.write_all(&png));
            if let Err(e) = &written {
                tracing::error!(error = %e, "illustration file failed");
            }
            if finish_illustration(&job_state, user, item.id, written.as_ref().ok())? {
                hold.delivered(1.0);
            } else if written.is_ok() {
                remove_quietly(&dir, &name);
            }
        }
        Ok(())
    };
    let ids = start_metered_job(
        &state,
        "illustrations",
        user,
        UsageKind::Illustration,
        prepare,
        work,
    )
    .await?;
    let generation_id = Uuid::now_v7();
    Ok(accepted(MediaKind::Illustrations, generation_id, id, ids))
}

/// The illustrations a story gets: `count` of them (by default from its length), their
/// prompts and their times spread over the audio (or the estimated reading time).
fn pending_illustrations(story: &StoryRecord, count: Option<u8>) -> Vec<PendingIllustration> {
    let count = count.unwrap_or_else(|| default_illustration_count(&story.content)) as usize;
    let duration = story.audio_duration.unwrap_or_else(|| {
        audio::duration_secs(audio::sample_count(audio::word_count(&story.content)))
    });
    (0..count)
        .map(|i| PendingIllustration {
            id: Uuid::now_v7(),
            prompt: illustration_prompt(story, i, count),
            timestamp: (duration * i as f64 / count as f64 * 10.0).round() / 10.0,
            display_order: i as u32,
        })
        .collect()
}

/// Marks one pending illustration `ready` with its file, or `failed` without one.
/// `true`: it is ready (the illustration still existed and its file is recorded).
fn finish_illustration(
    state: &AppState,
    user: Uuid,
    id: Uuid,
    file: Option<&WrittenFile>,
) -> anyhow::Result<bool> {
    let now = state.now();
    state.with_conn(|conn| -> anyhow::Result<bool> {
        let tx = conn.transaction()?;
        let ready = match file {
            Some(file) => {
                let url = media_url(&file.name);
                let done = illustration_store::set_status(
                    &tx,
                    user,
                    id,
                    GenerationStatus::Ready,
                    Some(&url),
                    now,
                )?;
                if done.is_some() {
                    insert_media_row(&tx, user, id, file, "image/png", now)?;
                }
                done.is_some()
            }
            None => {
                illustration_store::set_status(&tx, user, id, GenerationStatus::Failed, None, now)?;
                false
            }
        };
        tx.commit()?;
        Ok(ready)
    })
}

// ---------------------------------------------------------------------------------------
// Serving

/// A media file name this server could have made: `<uuid>.png` or `<uuid>.wav`.
pub fn valid_media_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((stem, "png" | "wav")) => stem.len() == 36 && Uuid::parse_str(stem).is_ok(),
        _ => false,
    }
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t == etag || t.strip_prefix("W/") == Some(etag)
    })
}

/// `GET /api/media/{name}` (bearer; only the owner's files) → the file, with
/// `Content-Length`, `ETag`, `Accept-Ranges`; `If-None-Match` → 304; `Range` → 206 or
/// 416.
pub async fn serve_media(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound("No such media file".to_owned());
    if !valid_media_name(&name) {
        return Err(not_found());
    }
    let user = auth.id();
    let lookup = name.clone();
    let row: Option<(String, i64, String)> = state
        .read(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT content_type, size, etag FROM media_files WHERE name = ?1 AND user_id = ?2",
                    params![lookup, user.to_string()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?)
        })
        .await?;
    let (content_type, size, etag) = row.ok_or_else(not_found)?;
    let size = size as u64;
    let path: PathBuf = state.media_dir().join(&name);
    let common = |res: &mut Response| {
        let h = res.headers_mut();
        h.insert(
            header::ETAG,
            HeaderValue::from_str(&etag).expect("hex etag"),
        );
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=31536000, immutable"),
        );
    };
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        if etag_matches(inm, &etag) {
            let mut res = StatusCode::NOT_MODIFIED.into_response();
            common(&mut res);
            return Ok(res);
        }
    }
    let if_range_ok = match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v.trim() == etag,
    };
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(r) if if_range_ok => parse_range(r, size),
        _ => RangeCheck::Full,
    };
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let (status, start, len) = match range {
        RangeCheck::Full => (StatusCode::OK, 0, size),
        RangeCheck::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
        RangeCheck::Unsatisfiable => {
            let mut res = error_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ErrorBody::new(
                    codes::BAD_REQUEST,
                    "The requested range is outside the file",
                ),
            );
            common(&mut res);
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
            );
            return Ok(res);
        }
    };
    if start > 0 {
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(ApiError::internal)?;
    }
    // 64 KiB reads: the default 4 KiB caps a loopback download near 90 MB/s.
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        file.take(len),
        64 << 10,
    ));
    let mut res = Response::new(body);
    *res.status_mut() = status;
    common(&mut res);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).map_err(ApiError::internal)?,
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + len - 1))
                .expect("ascii"),
        );
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_names() {
        let id = Uuid::now_v7();
        assert!(valid_media_name(&format!("{id}.png")));
        assert!(valid_media_name(&format!("{id}.wav")));
        assert!(!valid_media_name(&format!("{id}.exe")));
        assert!(!valid_media_name("../../etc/passwd"));
        assert!(!valid_media_name(&format!("../{id}.png")));
        assert!(!valid_media_name(".png"));
    }

    #[test]
    fn illustration_counts_and_prompts() {
        assert_eq!(default_illustration_count("one two"), 1);
        assert_eq!(default_illustration_count(&"w ".repeat(300)), 3);
        assert_eq!(default_illustration_count(&"w ".repeat(5000)), 5);
    }
}
