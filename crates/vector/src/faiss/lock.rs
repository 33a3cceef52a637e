//! The directory lock that lets several processes share one index directory.
//!
//! An OS file lock (`flock` on `index.lock`): writers hold it exclusively while they append to
//! the journal or write a checkpoint; readers hold it shared while they catch up with what
//! writers left. Both are held for one operation, never between operations, so a process that
//! dies releases it with its file descriptors. A process that cannot get it within the timeout
//! fails with `Unavailable`, naming the last writer that held it.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aimdb_core::fslock::{LockMode, lock_within};
use aimdb_core::{Error, Result};

/// The lock file's name.
pub const LOCK_FILE: &str = "index.lock";
/// Bytes of the holder note at the start of the lock file.
const NOTE_LEN: usize = 64;

/// The open lock file of one index directory.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
    timeout: Duration,
}

/// Held until dropped.
#[derive(Debug)]
pub struct Guard<'a> {
    lock: &'a DirLock,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // Closing the descriptor would release it too; unlocking now lets others in sooner.
        let _ = self.lock.file.unlock();
    }
}

impl DirLock {
    /// Opens (creating) the lock file in `dir`.
    pub fn open(dir: &Path, timeout: Duration) -> io::Result<Self> {
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        Ok(DirLock { file, path, timeout })
    }

    /// Takes the lock in `mode`, waiting at most the timeout.
    pub fn acquire(&self, mode: LockMode) -> Result<Guard<'_>> {
        let locked = lock_within(&self.file, mode, self.timeout)
            .map_err(|e| Error::backend(format!("lock {}: {e}", self.path.display()), e))?;
        if !locked {
            return Err(Error::unavailable(
                format!(
                    "the FAISS index in {} is busy: another process held {LOCK_FILE} for more than {:.1} s \
                     (last writer: {}); retry, or raise `lock_timeout_ms`",
                    self.path.parent().unwrap_or(&self.path).display(),
                    self.timeout.as_secs_f64(),
                    self.holder()
                ),
                "index lock timeout",
            ));
        }
        let guard = Guard { lock: self };
        if mode == LockMode::Exclusive {
            // Who holds it, for the message above; best effort, the lock is what matters.
            // Fixed width, so one write replaces the last note without truncating the file.
            let note =
                format!("{:<NOTE_LEN$.NOTE_LEN$}", format!("pid {} ({})", std::process::id(), program()));
            let _ = self.file.write_all_at(note.as_bytes(), 0);
        }
        Ok(guard)
    }

    /// The last exclusive holder's note.
    fn holder(&self) -> String {
        let mut buf = vec![0u8; NOTE_LEN];
        match self.file.read_at(&mut buf, 0) {
            Ok(n) if n > 0 => String::from_utf8_lossy(&buf[..n]).trim_end().to_owned(),
            _ => "unknown".to_owned(),
        }
    }
}

/// The lock a process holds while it retrains `collection` in the background (`flock` on
/// `retrain-<collection>.lock`, tried without waiting): one process at a time trains, the
/// others load its result. `None` while another holds it; released when dropped, or when
/// the holder dies.
pub fn try_retrain_lock(dir: &Path, collection: &str) -> io::Result<Option<File>> {
    let path = dir.join(format!("retrain-{collection}.lock"));
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

fn program() -> String {
    std::env::args()
        .next()
        .and_then(|a| Path::new(&a).file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "?".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_times_out_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let a = DirLock::open(dir.path(), Duration::from_millis(50)).unwrap();
        let b = DirLock::open(dir.path(), Duration::from_millis(50)).unwrap();
        let held = a.acquire(LockMode::Exclusive).unwrap();
        let err = b.acquire(LockMode::Shared).unwrap_err();
        assert!(err.is_retryable(), "{err:?}");
        assert!(err.to_string().contains(&format!("pid {}", std::process::id())), "{err}");
        drop(held);
        let r1 = a.acquire(LockMode::Shared).unwrap();
        let r2 = b.acquire(LockMode::Shared).unwrap();
        drop((r1, r2));
        b.acquire(LockMode::Exclusive).unwrap();
    }
}
