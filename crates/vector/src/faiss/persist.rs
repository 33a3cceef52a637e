//! Files on disk: one manifest naming each collection's current generation.
//!
//! Every file is written under a temporary name, synced and renamed; the manifest is renamed
//! last, so a reader sees the old generation or the new one, never a mix. Files no manifest
//! names any more are deleted after the switch. Changes since the generation was written live in
//! the journal the manifest names (see `journal.rs`).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use aimdb_core::{Collection, DistanceMetric, EmbedderIdentity};
use serde::{Deserialize, Serialize};

use super::layout::Layout;

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// Bumped when the layout of the files changes incompatibly.
pub const FORMAT: u32 = 1;

/// What `manifest.json` holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// File format version.
    pub format: u32,
    /// The embedder every vector came from; `None` while empty.
    pub embedder: Option<EmbedderIdentity>,
    /// How the vectors are compared (manifests written before metrics existed: cosine).
    #[serde(default)]
    pub metric: DistanceMetric,
    /// Numbers new files; never reused.
    pub next_file: u64,
    /// Each collection's current files.
    pub collections: BTreeMap<Collection, CollectionFiles>,
    /// The journal of changes since these files were written; `None` in directories written
    /// before journals existed (the next writer starts one).
    #[serde(default)]
    pub journal: Option<String>,
}

/// Tells one manifest file from another: a checkpoint renames a new one into place, so its
/// inode and modification time change (the time guards against a reused inode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManifestId {
    ino: u64,
    mtime: i64,
    mtime_nsec: i64,
    len: u64,
}

/// The identity of the manifest now on disk; `None` when there is none.
pub fn manifest_id(dir: &Path) -> io::Result<Option<ManifestId>> {
    match fs::metadata(dir.join(MANIFEST)) {
        Ok(m) => {
            Ok(Some(ManifestId { ino: m.ino(), mtime: m.mtime(), mtime_nsec: m.mtime_nsec(), len: m.len() }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// One collection's files and index parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CollectionFiles {
    /// Index structure.
    pub layout: Layout,
    /// Lists probed (IVF).
    pub nprobe: Option<u32>,
    /// Vectors the index was trained on; `None` in files written before it was recorded.
    #[serde(default)]
    pub trained_on: Option<usize>,
    /// Vector length.
    pub dim: usize,
    /// `faiss::write_index` output.
    pub index_file: String,
    /// Ids, vector offsets and filter fields (JSON).
    pub records_file: String,
    /// Exact vectors (append-only).
    pub vectors_file: String,
    /// Bytes of the vectors file this generation covers.
    pub vectors_len: u64,
}

/// Syncs `tmp`, renames it over `path` and syncs the directory.
pub fn commit(tmp: &Path, path: &Path) -> io::Result<()> {
    File::open(tmp)?.sync_all()?;
    fs::rename(tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = Path::new(&tmp);
    let mut file = File::create(tmp)?;
    file.write_all(bytes)?;
    drop(file);
    commit(tmp, path)
}

/// Reads the manifest, `None` when the directory holds no index yet.
pub fn read_manifest(dir: &Path) -> io::Result<Option<Manifest>> {
    let bytes = match fs::read(dir.join(MANIFEST)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if manifest.format != FORMAT {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("index format {} (this build reads {FORMAT}); run `reindex`", manifest.format),
        ));
    }
    Ok(Some(manifest))
}

/// Writes the manifest atomically, then deletes index files it no longer names.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    write_atomic(&dir.join(MANIFEST), &json)?;
    let live: Vec<&str> = manifest
        .collections
        .values()
        .flat_map(|f| [f.index_file.as_str(), f.records_file.as_str(), f.vectors_file.as_str()])
        .chain(manifest.journal.as_deref())
        .collect();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        // Only our own files: the `faiss` preset keeps its SQLite metadata in the same directory.
        let ours = name.starts_with(super::journal::PREFIX)
            || Collection::ALL.iter().any(|c| name.starts_with(&format!("{c}.")));
        if ours && !live.contains(&name) {
            fs::remove_file(dir.join(name))?;
        }
    }
    Ok(())
}
