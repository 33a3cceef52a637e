//! The journal: every change since the last checkpoint, in the order writers made it.
//!
//! A writer appends one entry per change while it holds the directory lock exclusively; every
//! process replays the entries it has not seen yet before it reads or writes, so all processes
//! sharing a directory see the same records. A checkpoint folds the journal into the index
//! files and starts an empty one (named by the new manifest). Entries are framed
//! `[len: u32 LE][crc32: u32 LE][body]`: a crash mid-append leaves a torn tail that fails its
//! check, is ignored by readers and cut by the next writer.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use aimdb_core::{Collection, DistanceMetric, EmbedderIdentity};
use serde::{Deserialize, Serialize};

/// Prefix of journal file names (`journal.N.log`).
pub const PREFIX: &str = "journal.";
/// Vector bytes one entry may carry: a frame's length is 32 bits, and this leaves room for
/// the ids and filter fields beside them. Larger writes go straight into a checkpoint.
pub const MAX_ENTRY_VECTOR_BYTES: u64 = 1 << 30;

/// What an entry changes. Vectors travel beside it, raw, in [`Entry::vectors`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Change {
    /// Records added or replaced; `ids.len() * embedder.dim` floats follow.
    Upsert {
        /// Which collection.
        collection: Collection,
        /// Who embedded them.
        embedder: EmbedderIdentity,
        /// How they are compared (entries written before metrics existed: cosine).
        #[serde(default)]
        metric: DistanceMetric,
        /// Entity ids.
        ids: Vec<i64>,
        /// Filter fields, one map per id.
        metadata: Vec<BTreeMap<String, String>>,
    },
    /// Records removed.
    Remove {
        /// Which collection.
        collection: Collection,
        /// Entity ids.
        ids: Vec<i64>,
    },
    /// Every collection emptied, the embedder forgotten.
    Reset,
    /// Lists probed per query.
    Nprobe {
        /// Which collection.
        collection: Collection,
        /// Lists.
        nprobe: u32,
    },
}

/// One journal entry.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The change.
    pub change: Change,
    /// Unit-length vectors of an upsert, concatenated; empty otherwise.
    pub vectors: Vec<f32>,
}

impl Entry {
    /// A change without vectors.
    pub fn plain(change: Change) -> Self {
        Entry { change, vectors: Vec::new() }
    }

    /// Bytes of the vectors it carries.
    pub fn vector_bytes(&self) -> u64 {
        4 * self.vectors.len() as u64
    }

    fn encode(&self) -> io::Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.change).map_err(io::Error::other)?;
        let body_len = 4 + header.len() + 4 * self.vectors.len();
        let mut out = Vec::with_capacity(8 + body_len);
        out.extend_from_slice(&u32::try_from(body_len).map_err(io::Error::other)?.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for x in &self.vectors {
            out.extend_from_slice(&x.to_le_bytes());
        }
        let crc = crc32fast::hash(&out[8..]);
        out[4..8].copy_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    fn decode(body: &[u8]) -> Option<Self> {
        let header_len = u32::from_le_bytes(body.get(..4)?.try_into().ok()?) as usize;
        let header = body.get(4..4 + header_len)?;
        let change: Change = serde_json::from_slice(header).ok()?;
        let raw = body.get(4 + header_len..)?;
        if raw.len() % 4 != 0 {
            return None;
        }
        let vectors =
            raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes"))).collect();
        Some(Entry { change, vectors })
    }
}

/// An open journal and how much of it this process has applied.
#[derive(Debug)]
pub struct Journal {
    file: File,
    /// For messages.
    name: String,
    /// Bytes of whole, valid entries read or written so far.
    applied: u64,
    /// Bytes past `applied` that hold no valid entry (a crash mid-append).
    torn: bool,
    /// The file's length when last read or written here: a different length means new entries.
    seen: u64,
}

impl Journal {
    /// Creates an empty journal named `name` in `dir`, durably.
    pub fn create(dir: &Path, name: &str) -> io::Result<Self> {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(dir.join(name))?;
        file.sync_all()?;
        Ok(Journal { file, name: name.to_owned(), applied: 0, torn: false, seen: 0 })
    }

    /// Opens the journal `name` in `dir`, nothing applied yet.
    pub fn open(dir: &Path, name: &str) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).open(dir.join(name))?;
        Ok(Journal { file, name: name.to_owned(), applied: 0, torn: false, seen: 0 })
    }

    /// Bytes of valid entries.
    pub fn len(&self) -> u64 {
        self.applied
    }

    /// Whether the file changed since this process last read or wrote it (by length: entries
    /// are only appended, and a torn tail is only cut by the next append).
    pub fn has_new(&self) -> io::Result<bool> {
        Ok(self.file.metadata()?.len() != self.seen)
    }

    /// The entries written since the last call (by any process), in order.
    pub fn read_new(&mut self) -> io::Result<Vec<Entry>> {
        let size = self.file.metadata()?.len();
        self.seen = size;
        if size <= self.applied {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; (size - self.applied) as usize];
        self.file.read_exact_at(&mut buf, self.applied)?;
        let mut entries = Vec::new();
        let mut at = 0usize;
        self.torn = false;
        while at < buf.len() {
            let frame = buf.get(at..at + 8).and_then(|head| {
                let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
                let crc = u32::from_le_bytes(head[4..].try_into().ok()?);
                let body = buf.get(at + 8..at + 8 + len)?;
                if crc32fast::hash(body) != crc {
                    return None;
                }
                Some((len, Entry::decode(body)?))
            });
            let Some((len, entry)) = frame else {
                log::warn!(
                    "{}: ignoring {} bytes of a torn entry (a crash mid-write)",
                    self.name,
                    buf.len() - at
                );
                self.torn = true;
                break;
            };
            entries.push(entry);
            at += 8 + len;
        }
        self.applied += at as u64;
        Ok(entries)
    }

    /// Appends `entry` after the last valid one (cutting a torn tail first). The caller holds
    /// the directory lock exclusively and has read every entry before.
    pub fn append(&mut self, entry: &Entry) -> io::Result<()> {
        if self.torn {
            self.file.set_len(self.applied)?;
            self.torn = false;
        }
        let bytes = entry.encode()?;
        self.file.write_all_at(&bytes, self.applied)?;
        self.applied += bytes.len() as u64;
        self.seen = self.applied;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(id: i64) -> Entry {
        Entry {
            change: Change::Upsert {
                collection: Collection::Models,
                embedder: EmbedderIdentity { kind: "t".into(), model: "m".into(), dim: 2 },
                metric: DistanceMetric::Cosine,
                ids: vec![id],
                metadata: vec![BTreeMap::from([("k".to_owned(), "v".to_owned())])],
            },
            vectors: vec![0.6, -0.8],
        }
    }

    #[test]
    fn two_handles_see_each_others_entries_and_torn_tails_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Journal::create(dir.path(), "journal.1.log").unwrap();
        let mut reader = Journal::open(dir.path(), "journal.1.log").unwrap();
        writer.append(&upsert(1)).unwrap();
        writer
            .append(&Entry::plain(Change::Remove { collection: Collection::Models, ids: vec![1] }))
            .unwrap();
        let seen = reader.read_new().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].vectors, vec![0.6, -0.8]);
        assert!(reader.read_new().unwrap().is_empty(), "nothing new");

        // A crash mid-append: half an entry at the end.
        let good = writer.len();
        let half = upsert(2).encode().unwrap();
        writer.file.write_all_at(&half[..half.len() / 2], good).unwrap();
        assert!(reader.read_new().unwrap().is_empty(), "a torn entry is not applied");
        reader.append(&upsert(3)).unwrap();
        let mut fresh = Journal::open(dir.path(), "journal.1.log").unwrap();
        let all = fresh.read_new().unwrap();
        assert_eq!(all.len(), 3, "the torn tail was cut, the new entry follows the good ones");
        assert!(matches!(&all[2].change, Change::Upsert { ids, .. } if ids == &[3]));
    }
}
