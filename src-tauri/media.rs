//! The `media://` scheme: the web view loads avatars, illustrations and narration from
//! the core's media cache (`media://localhost/avatar/<hero id>`, `audio/<story id>`,
//! `illustration/<id>`). The core decides everything ([`is_core::Core::media_respond`]:
//! the path names a row, never a file; downloads on a miss; `Range` for seeking); this
//! only turns its answer into an HTTP response.

use is_core::media::serve::MediaResponse;
use is_core::Core;
use tauri::http::{header, Request, Response};
use tauri::{Manager, Runtime, UriSchemeContext, UriSchemeResponder};

/// The scheme's name, as in the CSP's `img-src`/`media-src`.
pub const SCHEME: &str = "media";

pub fn handle<R: Runtime>(
    ctx: UriSchemeContext<'_, R>,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let Some(core) = ctx
        .app_handle()
        .try_state::<Core>()
        .map(|c| c.inner().clone())
    else {
        responder.respond(to_http(MediaResponse {
            status: 503,
            headers: Vec::new(),
            body: b"Starting".to_vec(),
        }));
        return;
    };
    let path = request.uri().path().to_owned();
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    tauri::async_runtime::spawn(async move {
        let answer = core.media_respond(&path, range.as_deref()).await;
        responder.respond(to_http(answer));
    });
}

fn to_http(answer: MediaResponse) -> Response<Vec<u8>> {
    let mut builder = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(answer.body).unwrap_or_else(|e| {
        tracing::warn!(%e, "an unsendable media answer");
        let mut res = Response::new(Vec::new());
        *res.status_mut() = tauri::http::StatusCode::INTERNAL_SERVER_ERROR;
        res
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_keep_status_headers_and_body() {
        let res = to_http(MediaResponse {
            status: 206,
            headers: vec![
                ("Content-Type", "audio/wav".into()),
                ("Content-Range", "bytes 0-1/10".into()),
            ],
            body: vec![1, 2],
        });
        assert_eq!(res.status(), 206);
        assert_eq!(res.headers()["content-type"], "audio/wav");
        assert_eq!(res.headers()["content-range"], "bytes 0-1/10");
        assert_eq!(res.body(), &[1, 2]);
    }

    #[test]
    fn a_header_value_that_cannot_be_sent_is_a_500_not_a_panic() {
        let res = to_http(MediaResponse {
            status: 200,
            headers: vec![("Content-Type", "bad\nvalue".into())],
            body: vec![],
        });
        assert_eq!(res.status(), 500);
    }
}
