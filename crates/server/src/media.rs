//! Generated media: hero avatars (PNG), story audio (WAV) and story illustrations (PNG),
//! made by queued jobs and delivered through the change feed; and
//! `GET /api/media/{name}`, which serves them with `Content-Length`, a strong `ETag`,
//! `If-None-Match` (304) and `Range` (206, 416).
//!
//! A generation request queues a job in the database ([`crate::media_jobs`]) in the same
//! transaction that checks and reserves its usage, and answers 202 at once. Every server
//! process runs a [`MediaWorker`] that claims queued jobs one at a time, whichever
//! replica queued them, and runs them here. A job may run again (its replica died, or
//! an attempt failed), so each is idempotent: its files are named from the generation
//! and illustration ids (a rerun overwrites the same name), and a step an earlier
//! attempt recorded (an illustration already `ready`) is not done again.
//!
//! Files live in the media directory under names made from server-generated ids
//! (`<uuid>.png`, `<uuid>.wav`), never from user input. A media URL is relative to the
//! server (`/api/media/<name>`) and is served only with the owner's bearer token; any
//! other user gets 404, exactly like a missing file.

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use crate::params;
use crate::sql::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use is_protocol::{
    codes, ErrorBody, GenerationStatus, Hero, HeroRecord, HeroServer, IllustrationRecord,
    IllustrationsRequest, MediaJob, MediaKind, Story, StoryRecord, StoryServer, ILLUSTRATIONS_MAX,
};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use is_protocol::media::{etag_of_digest, parse_range, RangeCheck};

use crate::auth::AuthUser;
use crate::db::to_micros;
use crate::error::{error_response, panic_text, parse_json, ApiError, Path};
use crate::illustration_store::{self, PendingIllustration};
use crate::imaging::{self, seed_of};
use crate::media_jobs::{self, ClaimedJob, JobError, JobKind, JobPayload, MAX_ATTEMPTS};
use crate::media_store::MediaStore;
use crate::table::{self, Table};
use crate::usage;
use crate::{audio, AppState};

// ---------------------------------------------------------------------------------------
// The worker

/// The media worker of one server process: claims queued jobs one at a time and runs
/// them on the blocking pool. It wakes at once for a job queued by its own process and
/// every [`media_jobs::POLL_INTERVAL`] otherwise, for jobs queued by other replicas (or
/// left behind by one that died, once their lease has passed).
///
/// Dropping it stops it at once; a job already running on the blocking pool still ends
/// on its own, and one that cannot is taken over by a worker once its lease passes.
pub struct MediaWorker {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl MediaWorker {
    /// Starts a worker for `state` on the current tokio runtime.
    pub fn start(state: &AppState) -> MediaWorker {
        let stop = CancellationToken::new();
        let task = tokio::spawn(work(state.clone(), stop.clone()));
        MediaWorker { stop, task }
    }

    /// Stops claiming jobs and waits up to `grace` for the one running to end; `false`
    /// if it did not (it is left to finish, or to another replica after its lease).
    pub async fn stop(mut self, grace: Duration) -> bool {
        self.stop.cancel();
        tokio::time::timeout(grace, &mut self.task).await.is_ok()
    }
}

impl Drop for MediaWorker {
    fn drop(&mut self) {
        self.stop.cancel();
        self.task.abort();
    }
}

async fn work(state: AppState, stop: CancellationToken) {
    loop {
        run_queued_jobs(&state, &stop).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = state.jobs().woken() => {}
            _ = tokio::time::sleep(media_jobs::POLL_INTERVAL) => {}
        }
    }
}

/// Claims and runs jobs one at a time until none is claimable (or `stop` is
/// cancelled); returns how many it claimed.
pub async fn run_queued_jobs(state: &AppState, stop: &CancellationToken) -> usize {
    let mut claimed = 0;
    while !stop.is_cancelled() {
        // Held by the blocking task, so it lasts as long as the job even when this
        // future is dropped.
        let guard = state.jobs().start();
        let job_state = state.clone();
        let run = tokio::task::spawn_blocking(move || {
            let _guard = guard;
            run_next_job(&job_state)
        });
        match run.await {
            Ok(Ok(true)) => claimed += 1,
            Ok(Ok(false)) => break,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot claim a media job");
                break;
            }
            Err(e) => {
                tracing::error!(error = %e, "media worker task failed");
                break;
            }
        }
    }
    claimed
}

/// Claims the next job and runs it (blocking). `false` when no job was claimable.
fn run_next_job(state: &AppState) -> crate::sql::Result<bool> {
    let now = state.now();
    let replica = state.replica_id().to_owned();
    let Some(job) = state.with_conn(|conn| media_jobs::claim(conn, &replica, now))? else {
        return Ok(false);
    };
    state.jobs().count_claim();
    let (id, kind, attempt) = (job.id, job.kind.as_str(), job.attempt);
    if attempt > MAX_ATTEMPTS {
        tracing::warn!(%id, kind, "giving up a media job that never finished");
        if let Err(e) = end_job(state, &job) {
            tracing::error!(%id, kind, error = %format!("{e:#}"), "cannot give up a media job");
        }
        return Ok(true);
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| run_job(state, &job)))
        .unwrap_or_else(|panic| Err(anyhow::anyhow!("panicked: {}", panic_text(&*panic))));
    match outcome {
        Ok(()) => tracing::debug!(%id, kind, attempt, "media job done"),
        Err(e) if matches!(e.downcast_ref::<JobError>(), Some(JobError::Lost(_))) => {
            tracing::warn!(%id, kind, attempt, "media job taken over by another replica");
        }
        Err(e) => {
            tracing::error!(%id, kind, attempt, error = %format!("{e:#}"), "media job failed");
            let next = if attempt >= MAX_ATTEMPTS {
                end_job(state, &job)
            } else {
                state
                    .with_conn(|conn| job.release(conn))
                    .map_err(Into::into)
            };
            if let Err(e) = next {
                tracing::error!(%id, kind, error = %format!("{e:#}"), "cannot end a failed media job");
            }
        }
    }
    Ok(true)
}

fn run_job(state: &AppState, job: &ClaimedJob) -> anyhow::Result<()> {
    match job.kind {
        JobKind::Avatar => run_avatar(state, job),
        JobKind::Audio => run_audio(state, job),
        JobKind::Illustrations => run_illustrations(state, job),
    }
}

/// Ends a job with no more work to do: its illustrations still `pending` become
/// `failed`, its reservation is settled at what it delivered and its row is deleted, in
/// one transaction. For a job whose target is gone, whose steps are all done, or that is
/// given up.
fn end_job(state: &AppState, job: &ClaimedJob) -> anyhow::Result<()> {
    let now = state.now();
    state.with_conn(|conn| -> anyhow::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        job.finish(&tx, 0.0)?;
        for &id in &job.payload.illustration_ids {
            if pending_illustration(&tx, job.user_id, id)?.is_some() {
                illustration_store::set_status(
                    &tx,
                    job.user_id,
                    id,
                    GenerationStatus::Failed,
                    None,
                    now,
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    })
}

/// Queues a media job of `kind` for `user` under the generation id `id`. In one
/// transaction, `prepare` reads (and may write) what the job needs and says how much of
/// the job's monthly limit it will use and what it works on; that amount is reserved
/// (403 `limit_reached` if it would pass the limit; nothing `prepare` wrote is kept
/// then) and the job queued. Then this process's worker is woken. Returns `prepare`'s
/// answer for the response.
///
/// The reservation and the job are written together, so neither exists without the
/// other, whatever happens to the request or to the process afterwards.
async fn enqueue_job<A>(
    state: &AppState,
    id: Uuid,
    user: Uuid,
    kind: JobKind,
    prepare: impl FnOnce(&Transaction<'_>) -> Result<(f64, JobPayload, A), ApiError> + Send + 'static,
) -> Result<A, ApiError>
where
    A: Send + 'static,
{
    let limits = state.config().tier_limits.clone();
    let now = state.now();
    let answer = state
        .run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (amount, payload, answer) = prepare(&tx)?;
            let reservation = kind
                .usage_kind()
                .map(|usage_kind| usage::reserve(&tx, user, usage_kind, amount, &limits, now))
                .transpose()?;
            media_jobs::enqueue(&tx, id, user, kind, &payload, reservation.as_ref(), now)?;
            tx.commit()?;
            Ok(answer)
        })
        .await?;
    state.jobs().wake();
    Ok(answer)
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

/// Makes `name` through `fill` (hashing it on the way) and stores it whole in the
/// media store, replacing a file of that name: a job's rerun writes the same name.
/// Generated files are small (a few MB at most), so they are made in memory.
fn write_media(
    store: &MediaStore,
    name: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<WrittenFile> {
    let mut w = HashingWriter {
        inner: Vec::new(),
        hash: Sha256::new(),
    };
    fill(&mut w)?;
    let etag = etag_of_digest(&w.hash.finalize());
    let size = w.inner.len() as u64;
    store.put_blocking(name, Bytes::from(w.inner))?;
    Ok(WrittenFile {
        name: name.to_owned(),
        size,
        etag,
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
/// recorded as the row's, in one transaction. With `job` (the claim and what storing the
/// file delivers), the job ends in that same transaction. When the row is gone or a
/// tombstone by now, nothing is attached, the file is removed and the answer is `false`.
fn attach_media<E: Table>(
    state: &AppState,
    user: Uuid,
    id: Uuid,
    file: &WrittenFile,
    content_type: &str,
    set: impl FnOnce(&mut E::Server, String) + Send,
    job: Option<(&ClaimedJob, f64)>,
) -> anyhow::Result<bool> {
    let now = state.now();
    let stored = state.with_conn(|conn| -> anyhow::Result<bool> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let url = media_url(&file.name);
        let stored = table::write_server::<E>(&tx, user, id, now, |s| set(s, url))?.is_some();
        if stored {
            insert_media_row(&tx, user, id, file, content_type, now)?;
        }
        if let Some((job, delivered)) = job {
            job.finish(&tx, if stored { delivered } else { 0.0 })?;
        }
        tx.commit()?;
        Ok(stored)
    })?;
    if !stored {
        remove_quietly(state.media(), &file.name);
    }
    Ok(stored)
}

fn remove_quietly(store: &MediaStore, name: &str) {
    if let Err(e) = store.delete_blocking(name) {
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
    let generation_id = Uuid::now_v7();
    let prepare = move |tx: &Transaction<'_>| {
        table::get::<Hero>(tx, user, id)?
            .filter(|h| !h.deleted)
            .ok_or_else(|| ApiError::NotFound("No such hero".to_owned()))?;
        Ok((0.0, JobPayload::of(id), ()))
    };
    enqueue_job(&state, generation_id, user, JobKind::Avatar, prepare).await?;
    Ok(accepted(MediaKind::Avatar, generation_id, id, Vec::new()))
}

/// The avatar job: draws the hero as it is now and makes the picture the hero's.
fn run_avatar(state: &AppState, job: &ClaimedJob) -> anyhow::Result<()> {
    let hero = state
        .with_conn(|conn| table::get::<Hero>(conn, job.user_id, job.payload.target_id))?
        .filter(|h| !h.deleted);
    let Some(hero) = hero else {
        return end_job(state, job);
    };
    let file = avatar_file(state, &hero, job.id)?;
    let set = avatar_setter(job.id);
    attach_media::<Hero>(
        state,
        job.user_id,
        hero.id,
        &file,
        "image/png",
        set,
        Some((job, 0.0)),
    )?;
    Ok(())
}

/// Draws a hero's avatar and makes it the hero's at once, without a job (the demo
/// data's avatars, made at start-up).
pub fn draw_avatar(
    state: &AppState,
    user: Uuid,
    hero: &HeroRecord,
    generation_id: Uuid,
) -> anyhow::Result<()> {
    let file = avatar_file(state, hero, generation_id)?;
    let set = avatar_setter(generation_id);
    attach_media::<Hero>(state, user, hero.id, &file, "image/png", set, None).map(drop)
}

/// Writes the avatar of `hero` as `<generation_id>.png`.
fn avatar_file(
    state: &AppState,
    hero: &HeroRecord,
    generation_id: Uuid,
) -> anyhow::Result<WrittenFile> {
    let traits: Vec<&str> = hero.traits.iter().map(|t| t.as_str()).collect();
    let seed = seed_of(&["avatar", &hero.name, &traits.join(","), &hero.appearance]);
    let png = imaging::avatar(seed, hero.traits.len()).to_png();
    let name = format!("{generation_id}.png");
    write_media(state.media(), &name, |w| w.write_all(&png))
}

fn avatar_setter(generation_id: Uuid) -> impl FnOnce(&mut HeroServer, String) + Send {
    move |s, url| {
        s.avatar_url = Some(url);
        s.avatar_generation_id = Some(generation_id.to_string());
    }
}

/// 202 with the [`MediaJob`] just queued.
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

/// The live story a job works on, as it is now; `None` once it is gone.
fn job_story(state: &AppState, job: &ClaimedJob) -> crate::sql::Result<Option<StoryRecord>> {
    Ok(state
        .with_conn(|conn| table::get::<Story>(conn, job.user_id, job.payload.target_id))?
        .filter(|s| !s.deleted))
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
    let prepare = move |tx: &Transaction<'_>| {
        let story = live_story(tx, user, id)?;
        let samples = audio::sample_count(audio::word_count(&story.content));
        let minutes = audio::duration_secs(samples) / 60.0;
        Ok((minutes, JobPayload::of(id), ()))
    };
    enqueue_job(&state, generation_id, user, JobKind::Audio, prepare).await?;
    Ok(accepted(MediaKind::Audio, generation_id, id, Vec::new()))
}

/// The audio job: reads the story as it is now (the reservation caps what is counted
/// if it grew since the request) and makes the WAV the story's.
fn run_audio(state: &AppState, job: &ClaimedJob) -> anyhow::Result<()> {
    let Some(story) = job_story(state, job)? else {
        return end_job(state, job);
    };
    let samples = audio::sample_count(audio::word_count(&story.content));
    let duration = audio::duration_secs(samples);
    let seed = seed_of(&["audio", story.language.as_str(), &story.content]);
    let name = format!("{}.wav", job.id);
    let file = write_media(state.media(), &name, |w| {
        audio::write_wav(w, seed, samples).map(|_| ())
    })?;
    let set = move |s: &mut StoryServer, url| {
        s.audio_url = Some(url);
        s.audio_duration = Some(duration);
    };
    let delivered = Some((job, duration / 60.0));
    attach_media::<Story>(
        state,
        job.user_id,
        story.id,
        &file,
        "audio/wav",
        set,
        delivered,
    )?;
    Ok(())
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
    let generation_id = Uuid::now_v7();
    let prepare = move |tx: &Transaction<'_>| {
        let story = live_story(tx, user, id)?;
        let items = pending_illustrations(&story, req.count);
        illustration_store::replace_with_pending(tx, user, id, &items, now)?;
        let ids: Vec<Uuid> = items.iter().map(|i| i.id).collect();
        let payload = JobPayload {
            target_id: id,
            illustration_ids: ids.clone(),
        };
        Ok((items.len() as f64, payload, ids))
    };
    let ids = enqueue_job(&state, generation_id, user, JobKind::Illustrations, prepare).await?;
    Ok(accepted(MediaKind::Illustrations, generation_id, id, ids))
}

/// The illustrations job: draws each illustration still `pending` (an earlier attempt
/// may have finished some) and marks it `ready`, or `failed` when its file could not be
/// written; each in its own short transaction that also records the delivery, the last
/// one ending the job.
fn run_illustrations(state: &AppState, job: &ClaimedJob) -> anyhow::Result<()> {
    let Some(story) = job_story(state, job)? else {
        return end_job(state, job);
    };
    let pending = state.with_conn(|conn| -> crate::sql::Result<Vec<IllustrationRecord>> {
        let mut out = Vec::new();
        for &id in &job.payload.illustration_ids {
            out.extend(pending_illustration(conn, job.user_id, id)?);
        }
        Ok(out)
    })?;
    if pending.is_empty() {
        return end_job(state, job);
    }
    let seed = seed_of(&["illustration", &story.title, &story.content]);
    let store = state.media();
    let last = pending.len() - 1;
    for (i, item) in pending.iter().enumerate() {
        let name = format!("{}.png", item.id);
        let png = imaging::illustration(seed, item.display_order).to_png();
        let written = write_media(store, &name, |w| w.write_all(&png));
        if let Err(e) = &written {
            tracing::error!(error = %e, "illustration file failed");
        }
        let file = written.as_ref().ok();
        if !finish_illustration(state, job, item.id, file, i == last)? && written.is_ok() {
            remove_quietly(store, &name);
        }
    }
    Ok(())
}

/// The user's illustration `id` if it is live and still `pending`.
fn pending_illustration(
    conn: &Connection,
    user: Uuid,
    id: Uuid,
) -> crate::sql::Result<Option<IllustrationRecord>> {
    Ok(illustration_store::get_illustration(conn, user, id)?
        .filter(|i| !i.deleted && i.generation_status == GenerationStatus::Pending))
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

/// Marks one pending illustration `ready` with its file, or `failed` without one, and
/// records the step in `job` (ending the job after its `last` one), in one transaction.
/// `true`: it is ready (the illustration still existed and its file is recorded).
fn finish_illustration(
    state: &AppState,
    job: &ClaimedJob,
    id: Uuid,
    file: Option<&WrittenFile>,
    last: bool,
) -> anyhow::Result<bool> {
    let now = state.now();
    let user = job.user_id;
    state.with_conn(|conn| -> anyhow::Result<bool> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        let delivered = if ready { 1.0 } else { 0.0 };
        if last {
            job.finish(&tx, delivered)?;
        } else {
            job.progress(&tx, delivered, now)?;
        }
        tx.commit()?;
        Ok(ready)
    })
}

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
    // Streamed from the store as it is read, never whole into memory.
    let stream = state
        .media()
        .read(&name, start..start + len)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    let body = Body::from_stream(stream);
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
