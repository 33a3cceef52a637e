//! Chroma client errors as aimdb errors: a server that cannot be reached is `Unavailable`.

use aimdb_core::Error;

pub(crate) fn chroma(what: &str, e: anyhow::Error) -> Error {
    let unreachable = e.chain().any(|cause| {
        cause
            .downcast_ref::<reqwest::Error>()
            .is_some_and(|r| r.is_connect() || r.is_timeout() || r.is_request())
    });
    let message = format!("chroma: {what}: {e:#}");
    let source: Box<dyn std::error::Error + Send + Sync> = e.into();
    if unreachable {
        Error::Unavailable { message, source: Some(source) }
    } else {
        Error::Backend { message, source: Some(source) }
    }
}

/// Whether the server answered 404 (the chromadb client reports the status in the message).
pub(crate) fn is_not_found(e: &anyhow::Error) -> bool {
    let text = e.to_string();
    text.starts_with("404") || text.contains("does not exist") || text.contains("NotFound")
}
