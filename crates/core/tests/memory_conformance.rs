//! The in-memory store passes the whole conformance suite.

use std::sync::Arc;

use aimdb_core::{MemoryStore, MetadataStore};
use aimdb_testkit::StoreHarness;

struct Memory(Arc<MemoryStore>);

#[async_trait::async_trait]
impl StoreHarness for Memory {
    async fn open(&self) -> Arc<dyn MetadataStore> {
        self.0.clone()
    }
}

aimdb_testkit::metadata_store_suite!(async { Some(Memory(Arc::new(MemoryStore::new()))) });
