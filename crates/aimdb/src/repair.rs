//! Self-repair: bringing the vector index back in line with the store.
//!
//! The store is the source of truth and the index is derived from it, so they can disagree
//! after a crash between a store commit and the index write, a process killed during a
//! reindex, or index files copied from elsewhere. Opening a database compares them and
//! repairs what differs; [`AiDatabase::repair_index`] does it on demand.

use std::future::Future;
use std::time::Instant;

use aimdb_core::{Collection, Page, Result, StoreStatistics, Timestamp, time};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::database::AiDatabase;
use crate::search::Searchable;

/// Entities read, embedded and indexed per step.
const BATCH: u32 = 256;
/// A repair touching at least this many records shows a progress bar (on a terminal).
const BAR_FROM: u64 = 1_000;
/// The newest records may be on their way into the index from another process (stored, being
/// embedded, or waiting for the index lock behind a checkpoint): a few missing ones are looked
/// for again after each of these pauses (1 s in all, paid only when something is missing).
const IN_FLIGHT_GRACE_MS: [u64; 3] = [50, 200, 750];

/// What a repair of the vector index changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepairReport {
    /// When it finished.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Records the index lacked, embedded and added.
    pub added: u64,
    /// Ids the index held that the store does not, removed.
    pub removed: u64,
    /// How long it took.
    pub seconds: f64,
}

impl RepairReport {
    /// Whether it changed anything.
    pub fn touched(&self) -> u64 {
        self.added + self.removed
    }
}

impl AiDatabase {
    /// Compares the vector index with the store, collection by collection, and fixes what
    /// differs: records the index lacks are embedded and added, ids the store does not hold
    /// are removed. Safe beside other writers (adding is an upsert of what the store holds).
    pub async fn repair_index(&self) -> Result<RepairReport> {
        let start = Instant::now();
        let (mut added, mut removed) = (0, 0);
        let store = self.store();
        let counts = store.statistics().await?;
        for collection in Collection::ALL {
            let n = stored(&counts, collection);
            let (a, r) = match collection {
                Collection::Models => self.repair_collection(collection, n, |p| store.list_models(p)).await?,
                Collection::Datasets => {
                    self.repair_collection(collection, n, |p| store.list_datasets(p)).await?
                }
                Collection::Predictions => {
                    self.repair_collection(collection, n, |p| store.list_predictions(p)).await?
                }
            };
            added += a;
            removed += r;
        }
        self.flush().await?;
        let report = RepairReport { at: time::now(), added, removed, seconds: start.elapsed().as_secs_f64() };
        self.record_repair(&report);
        Ok(report)
    }

    /// Repairs when the index and the store hold different numbers of records, at open.
    /// Equal counts are taken as agreement: comparing every id of a large store at every
    /// open would cost more than it finds (`repair_index` does it on demand). Returns the
    /// report of a repair that changed something.
    pub(crate) async fn repair_if_needed(&self) -> Result<Option<RepairReport>> {
        let Some(index) = self.index() else { return Ok(None) };
        let counts = self.store().statistics().await?;
        let differs = index.info().await?.iter().any(|info| info.vectors != stored(&counts, info.collection));
        if !differs {
            return Ok(None);
        }
        let report = self.repair_index().await?;
        if report.touched() > 0 {
            log::warn!(
                "the vector index disagreed with the store (a crash or an interrupted reindex?): \
                 added {} records, removed {}, in {:.1} s",
                report.added,
                report.removed,
                report.seconds
            );
            return Ok(Some(report));
        }
        Ok(None)
    }

    /// Returns (added, removed) for one collection; `stored`, the store's count, only sizes
    /// the progress bar.
    async fn repair_collection<T, F, Fut>(
        &self,
        collection: Collection,
        stored: u64,
        list: F,
    ) -> Result<(u64, u64)>
    where
        T: Searchable,
        F: Fn(Page) -> Fut,
        Fut: Future<Output = Result<Vec<T>>>,
    {
        let index = self.require_index()?;
        // The index first, then the store: every write reaches the store before the index, so
        // an id indexed by the time of this read is in any later read of the store.
        let indexed = index.ids(collection).await?;
        let mut present = vec![false; indexed.len()];
        let bar = if stored.abs_diff(indexed.len() as u64) >= BAR_FROM {
            ProgressBar::new(stored)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("repair {msg} {bar:40} {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(collection.as_str());
        let mut page = Page::first(BATCH);
        let mut missing = Vec::new();
        let mut added = 0;
        loop {
            let items = list(page).await?;
            let Some(last) = items.last() else { break };
            page = Page::first(BATCH).after(last.id());
            bar.inc(items.len() as u64);
            for item in items {
                match indexed.binary_search(&item.id()) {
                    Ok(at) => present[at] = true,
                    Err(_) => missing.push(item),
                }
            }
            if missing.len() >= BATCH as usize {
                added += self.embed_and_index(collection, &std::mem::take(&mut missing)).await?;
            }
        }
        if added == 0 {
            for pause in IN_FLIGHT_GRACE_MS {
                if missing.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                let now = index.ids(collection).await?;
                missing.retain(|item| now.binary_search(&item.id()).is_err());
            }
        }
        added += self.embed_and_index(collection, &missing).await?;
        let extra: Vec<i64> = indexed.iter().zip(&present).filter(|(_, p)| !**p).map(|(id, _)| *id).collect();
        index.remove(collection, &extra).await?;
        bar.finish_and_clear();
        Ok((added, extra.len() as u64))
    }
}

/// How many records of `collection` the store holds.
pub(crate) fn stored(counts: &StoreStatistics, collection: Collection) -> u64 {
    match collection {
        Collection::Models => counts.models,
        Collection::Datasets => counts.datasets,
        Collection::Predictions => counts.predictions,
    }
}
