//! Bulk metric reads straight from the SQLite statement.
//!
//! Why: sqlx copies every value of every row into its own allocation on a worker
//! thread and hands rows over a channel, about 1 µs per six-column row here; a run
//! with 100k points took ~190 ms through sqlx and must take < 100 ms. Reading the
//! columns from the statement while holding sqlx's connection lock removes the copies.
//!
//! This is the only `unsafe` in the workspace (a tidy test keeps it that way). Each
//! block states the invariant it relies on.
#![allow(unsafe_code)]

use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

use aimdb_core::{Error, Metric, Result, TrainingRunId};
use libsqlite3_sys as ffi;

use crate::codec::micros;

const ALL: &CStr = c"SELECT metric_name, metric_value, epoch, step, split, timestamp \
    FROM metrics WHERE training_run_id = ?1 ORDER BY id";
const BY_NAME: &CStr = c"SELECT metric_name, metric_value, epoch, step, split, timestamp \
    FROM metrics WHERE training_run_id = ?1 AND metric_name = ?2 ORDER BY id";

/// A prepared statement finalized on drop, whatever path leaves the function.
struct Statement {
    db: NonNull<ffi::sqlite3>,
    raw: *mut ffi::sqlite3_stmt,
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: `raw` came from sqlite3_prepare_v2 on `db` and is finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.raw) };
    }
}

impl Statement {
    fn error(&self, what: &str) -> Error {
        // SAFETY: `db` is a live connection (the caller holds sqlx's lock on it);
        // sqlite3_errmsg returns a NUL-terminated string owned by the connection,
        // copied out before anything else can change it.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db.as_ptr())) };
        Error::Backend { message: format!("{what}: {}", message.to_string_lossy()), source: None }
    }

    fn text(&self, column: c_int, name: &str) -> Result<String> {
        // SAFETY: the statement has a current row (step returned SQLITE_ROW) and
        // `column` is within its six columns. column_text is called before
        // column_bytes, as SQLite documents, and the bytes are copied into a String
        // before the next step invalidates them.
        let bytes = unsafe {
            let data = ffi::sqlite3_column_text(self.raw, column);
            let len = ffi::sqlite3_column_bytes(self.raw, column);
            if data.is_null() {
                return Err(crate::error::corrupt(name, "unexpected NULL"));
            }
            std::slice::from_raw_parts(data, usize::try_from(len).unwrap_or(0))
        };
        String::from_utf8(bytes.to_vec()).map_err(|e| crate::error::corrupt(name, e))
    }

    fn opt_i64(&self, column: c_int) -> Option<i64> {
        // SAFETY: as in `text`: a current row and a column index in range.
        unsafe {
            (ffi::sqlite3_column_type(self.raw, column) != ffi::SQLITE_NULL)
                .then(|| ffi::sqlite3_column_int64(self.raw, column))
        }
    }
}

/// Reads the metrics of `run` (optionally one name) in logging order.
///
/// The caller must hold sqlx's lock on the connection `db` for the whole call
/// (`SqliteConnection::lock_handle`), so no other statement runs on it meanwhile.
pub(crate) fn read_metrics(
    db: NonNull<ffi::sqlite3>,
    run: TrainingRunId,
    name: Option<&str>,
) -> Result<Vec<Metric>> {
    let sql = if name.is_some() { BY_NAME } else { ALL };
    let mut raw = ptr::null_mut();
    // SAFETY: `db` is live and exclusively ours (see above); `sql` is NUL-terminated.
    let rc = unsafe { ffi::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr(), -1, &mut raw, ptr::null_mut()) };
    let stmt = Statement { db, raw };
    if rc != ffi::SQLITE_OK {
        return Err(stmt.error("prepare get_metrics"));
    }
    // SAFETY: binding parameters 1 and 2, which the statement declares; SQLITE_TRANSIENT
    // makes SQLite copy the name, so the borrow need not outlive this call.
    let rc = unsafe {
        let mut rc = ffi::sqlite3_bind_int64(stmt.raw, 1, run.0);
        if let (ffi::SQLITE_OK, Some(name)) = (rc, name) {
            let len = c_int::try_from(name.len()).map_err(|_| Error::invalid("name", "too long"))?;
            rc = ffi::sqlite3_bind_text(stmt.raw, 2, name.as_ptr().cast(), len, ffi::SQLITE_TRANSIENT());
        }
        rc
    };
    if rc != ffi::SQLITE_OK {
        return Err(stmt.error("bind get_metrics"));
    }
    let mut metrics = Vec::new();
    loop {
        // SAFETY: a prepared, bound statement on a connection only we use.
        match unsafe { ffi::sqlite3_step(stmt.raw) } {
            ffi::SQLITE_ROW => {}
            ffi::SQLITE_DONE => break,
            _ => return Err(stmt.error("step get_metrics")),
        }
        // SAFETY: a current row; column 1 is REAL NOT NULL, column 5 INTEGER NOT NULL.
        let (metric_value, timestamp) =
            unsafe { (ffi::sqlite3_column_double(stmt.raw, 1), ffi::sqlite3_column_int64(stmt.raw, 5)) };
        metrics.push(Metric {
            training_run_id: run,
            metric_name: stmt.text(0, "metric_name")?,
            metric_value,
            epoch: stmt.opt_i64(2),
            step: stmt.opt_i64(3),
            split: stmt.text(4, "split")?,
            timestamp: micros("timestamp", timestamp)?,
        });
    }
    Ok(metrics)
}

const INSERT: &CStr = c"INSERT INTO metrics \
    (training_run_id, metric_name, metric_value, epoch, step, split, timestamp) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// Inserts `metrics` with one prepared statement stepped per row.
///
/// Why: sqlx's multi-row insert copies every value into its argument buffer and
/// SQLite re-binds 14,000 parameters per 2,000-row statement; stepping one
/// statement with the values bound in place halves a 10k-point batch.
///
/// The caller must hold sqlx's lock on the connection `db` for the whole call, inside
/// the transaction that makes the batch all-or-nothing.
pub(crate) fn insert_metrics(db: NonNull<ffi::sqlite3>, metrics: &[Metric]) -> Result<()> {
    let mut raw = ptr::null_mut();
    // SAFETY: `db` is live and exclusively ours (see above); `INSERT` is NUL-terminated.
    let rc = unsafe { ffi::sqlite3_prepare_v2(db.as_ptr(), INSERT.as_ptr(), -1, &mut raw, ptr::null_mut()) };
    let stmt = Statement { db, raw };
    if rc != ffi::SQLITE_OK {
        return Err(stmt.error("prepare log_metrics"));
    }
    for m in metrics {
        let name = text_len("metric_name", &m.metric_name)?;
        let split = text_len("split", &m.split)?;
        // SAFETY: parameters 1..=7 exist in `INSERT`. Text is bound SQLITE_STATIC: the
        // strings are borrowed from `metrics`, which outlives the statement, and each
        // binding is replaced before the next row's step. `reset` after each step.
        // Result codes are OR-ed: zero only when every bind succeeded.
        let rc = unsafe {
            let s = stmt.raw;
            let mut rc = ffi::sqlite3_bind_int64(s, 1, m.training_run_id.0);
            rc |= ffi::sqlite3_bind_text(s, 2, m.metric_name.as_ptr().cast(), name, ffi::SQLITE_STATIC());
            rc |= ffi::sqlite3_bind_double(s, 3, m.metric_value);
            rc |= bind_opt_i64(s, 4, m.epoch);
            rc |= bind_opt_i64(s, 5, m.step);
            rc |= ffi::sqlite3_bind_text(s, 6, m.split.as_ptr().cast(), split, ffi::SQLITE_STATIC());
            rc |= ffi::sqlite3_bind_int64(s, 7, aimdb_core::time::to_micros(m.timestamp));
            if rc == ffi::SQLITE_OK {
                rc = match ffi::sqlite3_step(s) {
                    ffi::SQLITE_DONE => ffi::SQLITE_OK,
                    other => other,
                };
                ffi::sqlite3_reset(s);
            }
            rc
        };
        if rc != ffi::SQLITE_OK {
            return Err(stmt.error("log_metrics"));
        }
    }
    Ok(())
}

fn text_len(field: &str, text: &str) -> Result<c_int> {
    c_int::try_from(text.len()).map_err(|_| Error::invalid(field, "longer than SQLite binds"))
}

/// Binds an optional integer, NULL for `None`.
///
/// # Safety
/// `stmt` is a live prepared statement with a parameter `index`.
unsafe fn bind_opt_i64(stmt: *mut ffi::sqlite3_stmt, index: c_int, value: Option<i64>) -> c_int {
    // SAFETY: as the caller promises.
    unsafe {
        match value {
            Some(v) => ffi::sqlite3_bind_int64(stmt, index, v),
            None => ffi::sqlite3_bind_null(stmt, index),
        }
    }
}
