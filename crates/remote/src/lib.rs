//! The aimdb client: [`RemoteStore`] is a [`MetadataStore`](aimdb_core::MetadataStore) whose
//! data lives in an `aimdb serve` server, so every program written against aimdb works
//! against a server unchanged (the facade opens it for `http://` and `https://` URLs).
//!
//! ```no_run
//! # async fn demo() -> aimdb_core::Result<()> {
//! use aimdb_core::{MetadataStore, NewModel};
//! use aimdb_remote::{RemoteConfig, RemoteStore};
//!
//! let config = RemoteConfig::from_url("http://127.0.0.1:8080")?.with_token("s3cret");
//! let store = RemoteStore::open(config).await?;
//! let model = store.create_model(NewModel::new("resnet50")).await?;
//! assert_eq!(store.get_model_by_name("resnet50").await?.id, model.id);
//! # Ok(()) }
//! ```
//!
//! The wire format ([`wire`]) is shared with the server: entities in the seed's field names,
//! errors as `{"error": {"kind": ..., "message": ..., ...}}`.
#![deny(missing_docs)]

mod backend;
mod config;
pub mod wire;

pub use backend::RemoteStore;
pub use config::{RemoteConfig, TOKEN_ENV, URL_SCHEMES};
/// The HTTP method of [`RemoteStore::call`].
pub use reqwest::Method;
