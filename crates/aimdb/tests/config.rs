//! Configuration: both YAML forms, presets, env overrides, errors naming keys, secrets.

use std::collections::HashMap;

use aimdb::config as cfg;
use aimdb::config::{apply_env, from_yaml_file, from_yaml_str};
use aimdb::{AimdbConfig, Error};
use aimdb_core::config::{DistanceMetric, EmbeddingDevice, EmbeddingPrecision, IndexType, VectorConfig};

fn config_error(result: aimdb::Result<AimdbConfig>) -> String {
    match result {
        Err(Error::Config { message, .. }) => message,
        other => panic!("expected a Config error, got {other:?}"),
    }
}

#[test]
fn empty_config_is_sqlite_in_the_working_directory() {
    let config = from_yaml_str("").unwrap();
    assert_eq!(config.metadata.url.expose(), "sqlite://aimdb.db");
    assert!(config.vectors.is_none());
    assert_eq!(config.embedding.model, "all-MiniLM-L6-v2");
    assert_eq!(config.embedding.normalize, None, "as the model declares");
}

#[test]
fn seed_sqlite_format() {
    let config = from_yaml_str("backend: sqlite\ndb_path: /data/models.db\necho: true\n").unwrap();
    assert_eq!(config.metadata.url.expose(), "sqlite:///data/models.db");
    assert!(config.metadata.echo);
}

#[test]
fn seed_faiss_preset_puts_metadata_beside_the_index() {
    let config = from_yaml_str(
        "backend: faiss\nindex_path: ./idx\ndimension: 384\nindex_type: ivfpq\nnlist: 256\nnprobe: 16\nm: 48\nnbits: 8\n",
    )
    .unwrap();
    assert_eq!(config.metadata.url.expose(), "sqlite://./idx/metadata.db");
    let Some(VectorConfig::Faiss(faiss)) = config.vectors else { panic!("faiss expected") };
    assert_eq!(faiss.path, std::path::Path::new("./idx"));
    assert_eq!(
        (faiss.index_type, faiss.nlist, faiss.nprobe, faiss.m, faiss.nbits),
        (IndexType::IvfPq, Some(256), Some(16), Some(48), Some(8))
    );
    assert_eq!(faiss.metric, DistanceMetric::Cosine, "cosine unless asked");
    let l2 = from_yaml_str(
        "backend: faiss
metric: l2
",
    )
    .unwrap();
    assert!(matches!(l2.vectors, Some(VectorConfig::Faiss(ref f)) if f.metric == DistanceMetric::L2));
}

#[test]
fn seed_chromadb_preset() {
    let config = from_yaml_str("backend: chromadb\npersist_directory: ./chroma\nport: 8123\n").unwrap();
    assert_eq!(config.metadata.url.expose(), "sqlite://./chroma/metadata.db");
    let Some(VectorConfig::Chroma(chroma)) = config.vectors else { panic!("chroma expected") };
    assert_eq!(chroma.url.expose(), "http://127.0.0.1:8123");
    let ip = from_yaml_str(
        "backend: chromadb
metric: inner_product
",
    )
    .unwrap();
    assert!(matches!(ip.vectors, Some(VectorConfig::Chroma(ref c)) if c.metric == DistanceMetric::Ip));
    let composed = from_yaml_str(
        "metadata:\n  url: sqlite://x\nvectors:\n  kind: chroma\n  url: http://h:1\n  metric: l2\n  search_ef: 100\n",
    );
    assert!(matches!(composed.unwrap().vectors,
        Some(VectorConfig::Chroma(ref c)) if c.metric == DistanceMetric::L2 && c.search_ef == Some(100)));
}

#[test]
fn seed_server_keys_compose_a_url_with_the_password_escaped() {
    let config = from_yaml_str(
        "backend: postgresql\nhost: db.internal\nport: 6543\ndatabase: ml\nuser: aimdb\npassword: 'p@ss/w:rd'\n",
    )
    .unwrap();
    assert_eq!(config.metadata.url.expose(), "postgres://aimdb:p%40ss%2Fw%3Ard@db.internal:6543/ml");
    let redis = from_yaml_str("backend: redis\nport: 6380\ndatabase: '2'\n").unwrap();
    assert_eq!(redis.metadata.url.expose(), "redis://127.0.0.1:6380/2");
    let mongo = from_yaml_str("backend: mongodb\nconnection_string: mongodb://h:1/x\n").unwrap();
    assert_eq!(mongo.metadata.url.expose(), "mongodb://h:1/x");
    config_error(from_yaml_str("backend: redis\ndatabase: models\n"));
}

#[test]
fn composed_format() {
    let config = from_yaml_str(
        "metadata:\n  url: mysql://u:secret@127.0.0.1/aimdb\n  pool_size: 3\n\
         vectors:\n  kind: faiss\n  path: /var/aimdb/index\n  index_type: flat\n\
         embedding:\n  model: hash\n  device: auto\n  normalize: false\n",
    )
    .unwrap();
    assert_eq!(config.metadata.pool_size, Some(3));
    assert_eq!(config.embedding.device, EmbeddingDevice::Auto);
    assert_eq!(config.embedding.normalize, Some(false));
    assert!(matches!(config.vectors, Some(VectorConfig::Faiss(ref f)) if f.index_type == IndexType::Flat));
}

#[test]
fn unknown_keys_are_named() {
    let message = config_error(from_yaml_str("backend: sqlite\ndb_pth: x.db\n"));
    assert!(message.contains("db_pth"), "{message}");
    let message = config_error(from_yaml_str("metadata:\n  url: sqlite://x\n  colour: blue\n"));
    assert!(message.contains("colour"), "{message}");
    let message = config_error(from_yaml_str("metadata:\n  url: sqlite://x\nembedding:\n  modle: hash\n"));
    assert!(message.contains("modle"), "{message}");
}

#[test]
fn bad_values_are_named() {
    let message = config_error(from_yaml_str("backend: oracle\n"));
    assert!(message.contains("backend") && message.contains("oracle"), "{message}");
    let message = config_error(from_yaml_str("backend: faiss\ndimension: 768\n"));
    assert!(message.contains("dimension"), "{message}");
    let message = config_error(from_yaml_str("metadata:\n  url: sqlite://x\nbackend: sqlite\n"));
    assert!(message.contains("backend"), "{message}");
    let message = config_error(from_yaml_str("backend: faiss\nindex_type: hnsw\n"));
    assert!(message.contains("hnsw") || message.contains("index_type"), "{message}");
    let message = config_error(from_yaml_str("backend: faiss\nmetric: hamming\n"));
    assert!(message.contains("hamming") || message.contains("metric"), "{message}");
}

#[test]
fn environment_overrides_the_file() {
    let env: HashMap<&str, &str> = HashMap::from([
        ("AIMDB_DATABASE_URL", "sqlite:///tmp/other.db"),
        ("EMBEDDING_MODEL_NAME", "sentence-transformers/all-MiniLM-L6-v2"),
        ("EMBEDDING_DEVICE", "CUDA"),
        ("EMBEDDING_PRECISION", "F32"),
        ("EMBEDDING_NORMALIZE", "false"),
        ("EMBEDDING_STRICT", "1"),
        ("AIMDB_INDEX_PATH", "/srv/index"),
    ]);
    let config =
        apply_env(from_yaml_str("backend: sqlite\n").unwrap(), |k| env.get(k).map(|v| v.to_string()))
            .unwrap();
    assert_eq!(config.metadata.url.expose(), "sqlite:///tmp/other.db");
    assert_eq!(config.embedding.model, "sentence-transformers/all-MiniLM-L6-v2");
    assert_eq!(config.embedding.device, EmbeddingDevice::Cuda);
    assert_eq!(config.embedding.precision, EmbeddingPrecision::F32);
    assert!(config.embedding.normalize == Some(false) && config.embedding.strict);
    assert!(
        matches!(config.vectors, Some(VectorConfig::Faiss(ref f)) if f.path == std::path::Path::new("/srv/index"))
    );

    let bad = apply_env(AimdbConfig::from_url("memory://"), |k| {
        (k == "EMBEDDING_DEVICE").then(|| "tpu".to_owned())
    });
    assert!(config_error(bad).contains("EMBEDDING_DEVICE"));
    let bad = apply_env(AimdbConfig::from_url("memory://"), |k| {
        (k == "EMBEDDING_PRECISION").then(|| "f8".to_owned())
    });
    assert!(config_error(bad).contains("EMBEDDING_PRECISION"));
    let bf16 = apply_env(AimdbConfig::from_url("memory://"), |k| {
        (k == "EMBEDDING_PRECISION").then(|| "bf16".to_owned())
    });
    assert_eq!(bf16.unwrap().embedding.precision, EmbeddingPrecision::Bf16);
    let bad = apply_env(AimdbConfig::from_url("memory://"), |k| {
        (k == "EMBEDDING_NORMALIZE").then(|| "maybe".to_owned())
    });
    assert!(config_error(bad).contains("EMBEDDING_NORMALIZE"));
}

#[test]
fn secrets_are_never_printed() {
    let config = from_yaml_str("backend: postgresql\nuser: u\npassword: hunter2\n").unwrap();
    let debug = format!("{config:?}");
    let display = config.metadata.url.to_string();
    let yaml_back = serde_json::to_string(&config).unwrap();
    for shown in [&debug, &display, &yaml_back] {
        assert!(!shown.contains("hunter2"), "password leaked: {shown}");
    }
    assert!(display.contains("***"));
    assert!(config.metadata.url.expose().contains("hunter2"), "the driver still gets it");
    let odd = aimdb_core::config::ConnectionUrl::new("weird://user:hunter2@[not a url");
    assert!(!format!("{odd:?}").contains("hunter2"));
}

#[test]
fn reads_files_and_names_them_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aimdb.yaml");
    std::fs::write(&path, "backend: memory\n").unwrap();
    assert_eq!(from_yaml_file(&path).unwrap().metadata.url.expose(), "memory://");
    std::fs::write(&path, "backend: [unclosed\n").unwrap();
    assert!(config_error(from_yaml_file(&path)).contains("aimdb.yaml"));
    assert!(config_error(from_yaml_file(dir.path().join("missing.yaml"))).contains("missing.yaml"));
    assert_eq!(cfg::DEFAULT_DB_PATH, "aimdb.db");
}

#[tokio::test]
async fn unknown_backends_are_clear_errors() {
    let message = config_error(
        aimdb::create_ai_database(AimdbConfig::from_url("oracle://x")).await.map(|db| db.config().clone()),
    );
    assert!(message.contains("oracle"), "{message}");
}

/// One table says which backend a URL scheme or a seed `backend:` name selects, and the
/// errors list it.
#[test]
fn one_scheme_table() {
    use cfg::{ConnectionUrl, StoreScheme};
    assert_eq!(StoreScheme::from_scheme("MariaDB"), Some(StoreScheme::MySql));
    assert_eq!(StoreScheme::from_scheme("postgresql"), Some(StoreScheme::Postgres));
    assert_eq!(StoreScheme::from_scheme("ftp"), None);
    assert_eq!(aimdb_sql::MYSQL_URL_SCHEMES, StoreScheme::MySql.url_schemes());
    assert_eq!(StoreScheme::from_seed_backend("postgresql"), Some(StoreScheme::Postgres));
    assert!(cfg::seed_backends().contains(&"faiss"));
    let err = StoreScheme::of_url(&ConnectionUrl::new("ftp://x"), "metadata.url").unwrap_err().to_string();
    assert!(err.contains("metadata.url") && err.contains("sqlite://") && err.contains("mongodb://"), "{err}");
    let unknown = config_error(from_yaml_str("backend: ftp\n"));
    assert!(unknown.contains("postgresql") && unknown.contains("chromadb"), "{unknown}");
}

#[test]
fn faiss_device_selects_gpus_and_rejects_anything_else() {
    use aimdb_core::config::VectorDevice;
    let device = |value: &str| {
        let yaml = format!(
            "metadata:\n  url: sqlite://x\nvectors:\n  kind: faiss\n  path: /i\n  device: \"{value}\"\n"
        );
        from_yaml_str(&yaml).map(|config| match config.vectors {
            Some(VectorConfig::Faiss(faiss)) => faiss.device,
            other => panic!("faiss expected, got {other:?}"),
        })
    };
    assert_eq!(device("cpu").unwrap(), VectorDevice::Cpu);
    assert_eq!(device("cuda").unwrap(), VectorDevice::Cuda(vec![0]));
    assert_eq!(device("CUDA:1").unwrap(), VectorDevice::Cuda(vec![1]));
    assert_eq!(device("cuda:0,1").unwrap(), VectorDevice::Cuda(vec![0, 1]));
    assert_eq!(device("cuda:all").unwrap(), VectorDevice::CudaAll);
    for bad in ["tpu", "cuda:", "cuda:x", "cuda:0,-1"] {
        let message = match device(bad) {
            Err(Error::Config { message, .. }) => message,
            other => panic!("{bad}: expected a Config error, got {other:?}"),
        };
        assert!(message.contains("vectors.device"), "{bad}: {message}");
    }
    // Unset means the CPU, and the CPU is not written back out.
    let faiss = aimdb_core::config::FaissConfig::new("/i");
    assert_eq!(faiss.device, VectorDevice::Cpu);
    assert!(!serde_json::to_string(&faiss).unwrap().contains("device"));
    let on_two = faiss.with_device(VectorDevice::Cuda(vec![0, 1]));
    assert!(serde_json::to_string(&on_two).unwrap().contains("\"device\":\"cuda:0,1\""));
}
