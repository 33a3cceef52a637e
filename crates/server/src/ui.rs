//! The web UI: one page (`/`) and its assets (`/ui/...`), embedded in the binary at build
//! time from `crates/server/ui/static` (the app, and the npm packages it uses, vendored with
//! their licences by `cargo xtask vendor-ui`). The page is a client of the REST API and
//! presents the same bearer tokens, so serving it needs no authentication of its own.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::routes::AppState;

#[derive(rust_embed::Embed)]
#[folder = "ui/static"]
struct Assets;

/// Scripts, styles and data only from this server; nothing may frame the UI.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(|headers: HeaderMap| async move { serve("index.html", &headers) })).route(
        "/ui/{*path}",
        get(|Path(path): Path<String>, headers: HeaderMap| async move { serve(&path, &headers) }),
    )
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        return ApiError::new(StatusCode::NOT_FOUND, "no_route", format!("the web UI has no file `{path}`"))
            .into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let etag = HeaderValue::from_str(&etag).expect("hex digits are a valid header value");
    // Revalidated on every load (no stale app after an upgrade), answered 304 when unchanged.
    let cache = [(header::ETAG, etag.clone()), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    if headers.get(header::IF_NONE_MATCH) == Some(&etag) {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    let mime = HeaderValue::from_str(file.metadata.mimetype())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        cache,
        [
            (header::CONTENT_TYPE, mime),
            (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        ],
        file.data,
    )
        .into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::Assets;

    /// Every file the page loads is embedded: the app's modules import each other and the
    /// vendored packages by path, and a typo would only show in a browser.
    #[test]
    fn every_import_and_link_resolves_to_an_embedded_file() {
        let files: Vec<String> = Assets::iter().map(|f| f.into_owned()).collect();
        assert!(files.iter().any(|f| f == "index.html"), "{files:?}");
        for file in files.iter().filter(|f| f.ends_with(".js") || f.ends_with(".html")) {
            if file.starts_with("vendor/") {
                continue;
            }
            let text = String::from_utf8(Assets::get(file).unwrap().data.into_owned()).unwrap();
            let dir = file.rsplit_once('/').map_or("", |(dir, _)| dir);
            for target in references(&text) {
                let resolved = if let Some(absolute) = target.strip_prefix("/ui/") {
                    absolute.to_owned()
                } else {
                    normalize(&format!("{dir}/{target}"))
                };
                assert!(
                    Assets::get(&resolved).is_some(),
                    "{file} refers to {target} ({resolved}), not embedded"
                );
            }
        }
    }

    /// `from "..."`, `import "..."`, `src="..."` and `href="..."` targets that are files.
    fn references(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for marker in ["from \"", "import \"", "src=\"", "href=\""] {
            for (i, _) in text.match_indices(marker) {
                let rest = &text[i + marker.len()..];
                let target = &rest[..rest.find('"').unwrap_or(0)];
                if target.starts_with("./") || target.starts_with("../") || target.starts_with("/ui/") {
                    out.push(target.to_owned());
                }
            }
        }
        out
    }

    fn normalize(path: &str) -> String {
        let mut parts: Vec<&str> = Vec::new();
        for part in path.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }
}
