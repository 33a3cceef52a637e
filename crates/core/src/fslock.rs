//! Waiting for an OS file lock, with a bound: how processes sharing an embedded database
//! (a SQLite file, a FAISS directory) take turns. Blocking; call it off the async runtime.

use std::fs::{File, TryLockError};
use std::io;
use std::time::{Duration, Instant};

/// Many holders at once, or one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Readers: any number together, no exclusive holder.
    Shared,
    /// One writer alone.
    Exclusive,
}

/// Locks `file` in `mode`, retrying with a growing pause (0.2 to 20 ms) until `timeout`.
/// Returns `Ok(false)` when another holder kept it that long.
pub fn lock_within(file: &File, mode: LockMode, timeout: Duration) -> io::Result<bool> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(200);
    loop {
        let attempt = match mode {
            LockMode::Shared => file.try_lock_shared(),
            LockMode::Exclusive => file.try_lock(),
        };
        match attempt {
            Ok(()) => return Ok(true),
            Err(TryLockError::WouldBlock) if start.elapsed() < timeout => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(TryLockError::WouldBlock) => return Ok(false),
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}
