//! MySQL (tested on MariaDB) passes the whole conformance suite against a real server
//! (`cargo xtask services up mysql`; URL in `AIMDB_TEST_MYSQL_URL`).
//! Each case gets a database of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use aimdb_core::MetadataStore;
use aimdb_sql::MySqlStore;
use aimdb_testkit::StoreHarness;
use sqlx::Connection;

struct FreshDatabase {
    url: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl FreshDatabase {
    async fn create() -> Option<Self> {
        let admin = std::env::var("AIMDB_TEST_MYSQL_URL").ok()?;
        let name = format!("aimdb_t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut conn = sqlx::MySqlConnection::connect(&admin).await.expect("connect to the test server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        let (base, _) = admin.rsplit_once('/').expect("URL ends in a database name");
        Some(FreshDatabase { url: format!("{base}/{name}") })
    }
}

#[async_trait::async_trait]
impl StoreHarness for FreshDatabase {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        Arc::new(MySqlStore::connect(&self.url).await.expect("open mysql"))
    }
}

aimdb_testkit::metadata_store_suite!(FreshDatabase::create());
