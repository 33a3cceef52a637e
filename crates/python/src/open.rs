//! `create_ai_database(...)`: the seed's keywords, a URL, or a YAML file, to an open database.

use std::path::PathBuf;

use aimdb::Error;
use aimdb::config::{self, AimdbConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::database::Database;
use crate::runtime;

/// Opens (creating if needed) an aimdb database, as the seed's `create_ai_database`.
///
/// `backend` is one of `sqlite`, `postgresql`, `mysql`, `redis`, `mongodb`, `faiss`,
/// `chromadb` or `memory`, with the seed's keywords (`db_path`, `connection_string`,
/// `host`, `port`, `database`, `user`, `password`, `persist_directory`, `index_path`,
/// `echo`, `index_type`, `nlist`, ...) or the composed sections (`metadata`, `vectors`,
/// `embedding`) as dicts. Or `url="postgres://..."`, or `config="aimdb.yaml"` (the
/// environment then overrides the file, as in Rust). With nothing at all: `$AIMDB_CONFIG`,
/// else `./aimdb.yaml`, else SQLite at `./aimdb.db`. `.env` is read first and
/// `EMBEDDING_*` apply in every case. `dimension` is checked against the embedder: a
/// mismatch raises `DimensionMismatch`.
#[pyfunction]
#[pyo3(signature = (backend=None, *, url=None, config=None, dimension=None, **options))]
pub(crate) fn create_ai_database(
    py: Python<'_>,
    backend: Option<String>,
    url: Option<String>,
    config: Option<PathBuf>,
    dimension: Option<usize>,
    options: Option<&Bound<'_, PyDict>>,
) -> PyResult<Database> {
    let mut resolved = resolve(backend, url, config, options).map_err(crate::errors::to_py)?;
    if resolved.embedding.model.starts_with("openai:") && resolved.embedding.dimensions.is_none() {
        // A service's model may shorten its vectors: it is asked for the seed's dimension.
        resolved.embedding.dimensions = dimension;
    }
    let db = runtime::block_on(py, async move {
        let db = aimdb::create_ai_database(resolved).await?;
        if let Some(dimension) = dimension {
            let identity = db.embedder().identity().await?;
            if identity.dim != dimension {
                let _ = aimdb::MetadataStore::close(&db).await;
                return Err(Error::DimensionMismatch {
                    context: format!("dimension (the embedder is {identity})"),
                    expected: identity.dim,
                    actual: dimension,
                });
            }
        }
        Ok(db)
    })?;
    Database::new(db)
}

fn resolve(
    backend: Option<String>,
    url: Option<String>,
    file: Option<PathBuf>,
    options: Option<&Bound<'_, PyDict>>,
) -> aimdb::Result<AimdbConfig> {
    config::read_dotenv()?;
    let mut keys: Vec<String> = Vec::new();
    if backend.is_some() {
        keys.push("backend".into());
    }
    for key in options.into_iter().flat_map(|o| o.keys()) {
        keys.push(key.to_string());
    }
    let exclusive = |name: &str| {
        if keys.is_empty() {
            Ok(())
        } else {
            Err(Error::config(format!("{name}= cannot be combined with {}", keys.join(", "))))
        }
    };
    if let Some(url) = url {
        if file.is_some() {
            return Err(Error::config("give url= or config=, not both"));
        }
        exclusive("url")?;
        return config::apply_embedding_env(AimdbConfig::from_url(url));
    }
    if let Some(file) = file {
        exclusive("config")?;
        return config::load(Some(&file));
    }
    if keys.is_empty() {
        return config::load(None);
    }
    let mut object = match options {
        Some(options) => pythonize::depythonize::<Value>(options.as_any())
            .map_err(|e| Error::config(format!("options are not representable as configuration: {e}")))?,
        None => Value::Object(Default::default()),
    };
    if let (Some(backend), Value::Object(map)) = (backend, &mut object) {
        map.insert("backend".into(), Value::String(backend));
    }
    config::apply_embedding_env(config::from_json(object)?)
}
