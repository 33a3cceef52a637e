//! Two servers, one database: with PostgreSQL metadata and a Chroma index a server keeps no
//! state of its own, so what one server writes the other reads and finds by meaning (as
//! behind a load balancer). Needs `cargo xtask services up postgres chromadb`.

mod common;

use aimdb::config::{ChromaConfig, VectorConfig};
use aimdb::prelude::*;
use aimdb::{MetadataStore, NewDataset};
use aimdb_server::ServerConfig;
use sqlx::Connection;

async fn fresh_postgres(admin: &str) -> String {
    let name = format!("aimdb_scale{}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect to the test server");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let (base, _) = admin.rsplit_once('/').expect("URL ends in a database name");
    format!("{base}/{name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_postgres_and_chroma() {
    let (Ok(postgres), Ok(chroma)) =
        (std::env::var("AIMDB_TEST_POSTGRES_URL"), std::env::var("AIMDB_TEST_CHROMA_URL"))
    else {
        aimdb_testkit::skip("scale-out needs AIMDB_TEST_POSTGRES_URL and AIMDB_TEST_CHROMA_URL");
        return;
    };
    let mut config =
        AimdbConfig::from_url(fresh_postgres(&postgres).await).with_vectors(VectorConfig::Chroma(
            ChromaConfig::new(chroma).with_database(format!("scale_{}", std::process::id())),
        ));
    config.embedding.model = "hash".into();
    // Two independent servers, each with its own connections, as two machines would run.
    let a = common::client(common::serve(config.clone(), ServerConfig::new()).await).await;
    let b = common::client(common::serve(config, ServerConfig::new()).await).await;

    let resnet = a
        .create_model(
            NewModel::new("resnet50").with_framework("pytorch").with_description("image recognition"),
        )
        .await
        .unwrap();
    a.create_model(NewModel::new("bert").with_framework("tensorflow")).await.unwrap();
    b.create_dataset(NewDataset::new("imagenet").with_format("jpeg")).await.unwrap();

    assert_eq!(b.get_model(resnet.id).await.unwrap(), resnet, "b reads what a wrote");
    let hits = b
        .search_similar_models("resnet50 image recognition pytorch", 1, &ModelFilter::default())
        .await
        .unwrap();
    assert_eq!(hits[0].item.id, resnet.id, "b finds by meaning what a indexed");
    let hits = a.search_similar_datasets("imagenet jpeg", 1, &DatasetFilter::default()).await.unwrap();
    assert_eq!(hits[0].item.name, "imagenet", "and a what b indexed");

    let version = b.create_model_version(NewModelVersion::new(resnet.id, "1")).await.unwrap();
    let run = a.create_training_run(NewTrainingRun::new(version.id)).await.unwrap();
    let metrics: Vec<NewMetric> =
        (0..100i32).map(|s| NewMetric::new("loss", 1.0 / f64::from(s + 1)).with_step(i64::from(s))).collect();
    b.log_metrics(run.id, metrics).await.unwrap();
    assert_eq!(a.get_metrics(run.id, Some("loss")).await.unwrap().len(), 100);
    let (sa, sb) = (a.get_statistics().await.unwrap(), b.get_statistics().await.unwrap());
    assert_eq!(sa.counts, sb.counts);
    assert_eq!((sa.backend.as_str(), sa.counts.models, sa.counts.metrics), ("postgres", 2, 100));
    let vectors: Vec<u64> = sb.index.unwrap().collections.iter().map(|c| c.vectors).collect();
    assert_eq!(vectors, [2, 1, 0]);
}
