//! Bulk reads and metric writes straight from the SQLite statement.
//!
//! Why: sqlx copies every value of every row into its own allocation on a worker
//! thread and hands rows over a channel, about 1 µs per six-column row here, more when
//! the two threads ping-pong on two cores; a run with 100k points took ~190 ms through
//! sqlx and must take < 100 ms, and the ~1,000 small rows behind an MLflow `runs/search`
//! of 200 runs took most of its 11 ms. Reading the columns from the statement while
//! holding sqlx's connection lock removes the copies and the hand-overs.
//!
//! This is the only `unsafe` in the workspace (a tidy test keeps it that way). Each
//! block states the invariant it relies on.
#![allow(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

use aimdb_core::{Entity, Error, Metric, Result, TrainingRunId};
use libsqlite3_sys as ffi;

use crate::codec::micros;
use crate::store::RunDetails;

const ALL: &CStr = c"SELECT metric_name, metric_value, epoch, step, split, timestamp \
    FROM metrics WHERE training_run_id = ?1 ORDER BY id";
const BY_NAME: &CStr = c"SELECT metric_name, metric_value, epoch, step, split, timestamp \
    FROM metrics WHERE training_run_id = ?1 AND metric_name = ?2 ORDER BY id";

// The runs come as one JSON array (`?1`), so each statement is prepared once whatever
// their number, below SQLite's parameter limit.
const HYPERPARAMETERS_OF: &CStr = c"SELECT training_run_id, name, value FROM hyperparameters \
    WHERE training_run_id IN (SELECT value FROM json_each(?1))";
const TAGS_OF: &CStr = c"SELECT entity_id, name, value FROM tags \
    WHERE entity = ?2 AND entity_id IN (SELECT value FROM json_each(?1))";
// Every point of the runs, the latest chosen while reading: SQLite's window function
// (`statements::latest_metrics_of`) sorts them all first, 1 ms for 200 one-point runs.
const POINTS_OF: &CStr =
    c"SELECT training_run_id, metric_name, metric_value, epoch, step, split, timestamp, id \
    FROM metrics WHERE training_run_id IN (SELECT value FROM json_each(?1))";

/// A value bound to a statement's parameter.
enum Bind<'a> {
    Int(i64),
    Text(&'a str),
}

/// A prepared statement finalized on drop, whatever path leaves the function.
struct Statement {
    db: NonNull<ffi::sqlite3>,
    raw: *mut ffi::sqlite3_stmt,
    /// Columns of each row: accessors check indexes against it (SQLite leaves an index
    /// out of range undefined).
    columns: c_int,
    what: &'static str,
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: `raw` came from sqlite3_prepare_v2 on `db` and is finalized once, here
        // (finalizing NULL, left by a failed prepare, is a harmless no-op).
        unsafe { ffi::sqlite3_finalize(self.raw) };
    }
}

impl Statement {
    /// Prepares `sql` on `db`.
    ///
    /// The caller must hold sqlx's lock on the connection `db` for as long as the
    /// statement lives (`SqliteConnection::lock_handle`), so no other statement runs on
    /// it meanwhile.
    fn prepare(db: NonNull<ffi::sqlite3>, sql: &CStr, what: &'static str) -> Result<Self> {
        let mut raw = ptr::null_mut();
        // SAFETY: `db` is live and exclusively ours (see above); `sql` is NUL-terminated.
        let rc = unsafe { ffi::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr(), -1, &mut raw, ptr::null_mut()) };
        let mut stmt = Statement { db, raw, columns: 0, what };
        if rc != ffi::SQLITE_OK {
            return Err(stmt.error("prepare"));
        }
        // SAFETY: a prepared statement.
        stmt.columns = unsafe { ffi::sqlite3_column_count(raw) };
        Ok(stmt)
    }

    fn error(&self, step: &str) -> Error {
        // SAFETY: `db` is a live connection (the caller holds sqlx's lock on it);
        // sqlite3_errmsg returns a NUL-terminated string owned by the connection,
        // copied out before anything else can change it.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db.as_ptr())) };
        Error::Backend {
            message: format!("{step} {}: {}", self.what, message.to_string_lossy()),
            source: None,
        }
    }

    /// Binds `values` to parameters 1, 2, ...
    fn bind(&self, values: &[Bind<'_>]) -> Result<()> {
        for (index, value) in (1..).zip(values) {
            // SAFETY: the statement declares these parameters (a wrong index is an
            // error code, not undefined); SQLITE_TRANSIENT makes SQLite copy the text,
            // so the borrow need not outlive this call.
            let rc = unsafe {
                match *value {
                    Bind::Int(v) => ffi::sqlite3_bind_int64(self.raw, index, v),
                    Bind::Text(text) => ffi::sqlite3_bind_text(
                        self.raw,
                        index,
                        text.as_ptr().cast(),
                        text_len("parameter", text)?,
                        ffi::SQLITE_TRANSIENT(),
                    ),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.error("bind"));
            }
        }
        Ok(())
    }

    /// Steps through the rows, handing each, while current, to `row`.
    fn each_row(&self, mut row: impl FnMut(&Row<'_>) -> Result<()>) -> Result<()> {
        loop {
            // SAFETY: a prepared, bound statement on a connection only we use.
            match unsafe { ffi::sqlite3_step(self.raw) } {
                ffi::SQLITE_ROW => row(&Row(self))?,
                ffi::SQLITE_DONE => return Ok(()),
                _ => return Err(self.error("step")),
            }
        }
    }
}

/// The current row of a [`Statement`]: only lent out by `each_row` between a step that
/// returned `SQLITE_ROW` and the next step.
struct Row<'a>(&'a Statement);

impl Row<'_> {
    fn column(&self, column: c_int, name: &str) -> Result<c_int> {
        if column < self.0.columns {
            Ok(column)
        } else {
            Err(crate::error::corrupt(name, format!("no column {column} in {}", self.0.what)))
        }
    }

    fn bytes(&self, column: c_int, name: &str) -> Result<&[u8]> {
        let column = self.column(column, name)?;
        // SAFETY: a current row (see `Row`) and a column in range. column_text is
        // called before column_bytes, as SQLite documents; the bytes stay valid until
        // the next step, which cannot happen while this row is borrowed.
        unsafe {
            let data = ffi::sqlite3_column_text(self.0.raw, column);
            let len = ffi::sqlite3_column_bytes(self.0.raw, column);
            if data.is_null() {
                return Err(crate::error::corrupt(name, "unexpected NULL"));
            }
            Ok(std::slice::from_raw_parts(data, usize::try_from(len).unwrap_or(0)))
        }
    }

    fn str(&self, column: c_int, name: &str) -> Result<&str> {
        std::str::from_utf8(self.bytes(column, name)?).map_err(|e| crate::error::corrupt(name, e))
    }

    fn text(&self, column: c_int, name: &str) -> Result<String> {
        self.str(column, name).map(str::to_owned)
    }

    fn opt_i64(&self, column: c_int, name: &str) -> Result<Option<i64>> {
        let column = self.column(column, name)?;
        // SAFETY: as in `bytes`: a current row and a column in range.
        Ok(unsafe {
            (ffi::sqlite3_column_type(self.0.raw, column) != ffi::SQLITE_NULL)
                .then(|| ffi::sqlite3_column_int64(self.0.raw, column))
        })
    }

    /// A NOT NULL integer column.
    fn i64(&self, column: c_int, name: &str) -> Result<i64> {
        let column = self.column(column, name)?;
        // SAFETY: as in `bytes`.
        Ok(unsafe { ffi::sqlite3_column_int64(self.0.raw, column) })
    }

    /// A NOT NULL real column.
    fn f64(&self, column: c_int, name: &str) -> Result<f64> {
        let column = self.column(column, name)?;
        // SAFETY: as in `bytes`.
        Ok(unsafe { ffi::sqlite3_column_double(self.0.raw, column) })
    }

    /// A metric from `first` on: name, value, epoch, step, split, timestamp.
    fn metric(&self, run: TrainingRunId, first: c_int) -> Result<Metric> {
        Ok(Metric {
            training_run_id: run,
            metric_name: self.text(first, "metric_name")?,
            metric_value: self.f64(first + 1, "metric_value")?,
            epoch: self.opt_i64(first + 2, "epoch")?,
            step: self.opt_i64(first + 3, "step")?,
            split: self.text(first + 4, "split")?,
            timestamp: micros("timestamp", self.i64(first + 5, "timestamp")?)?,
        })
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
    let stmt = match name {
        None => Statement::prepare(db, ALL, "get_metrics")?,
        Some(_) => Statement::prepare(db, BY_NAME, "get_metrics")?,
    };
    match name {
        None => stmt.bind(&[Bind::Int(run.0)])?,
        Some(name) => stmt.bind(&[Bind::Int(run.0), Bind::Text(name)])?,
    }
    let mut metrics = Vec::new();
    stmt.each_row(|row| {
        metrics.push(row.metric(run, 0)?);
        Ok(())
    })?;
    Ok(metrics)
}

/// Reads the hyperparameters, tags and latest metric points of `runs`.
///
/// The caller must hold sqlx's lock on the connection `db` for the whole call, as for
/// [`read_metrics`].
pub(crate) fn read_run_details(db: NonNull<ffi::sqlite3>, runs: &[i64]) -> Result<RunDetails> {
    let ids = format!("[{}]", runs.iter().map(i64::to_string).collect::<Vec<_>>().join(","));
    let mut details = RunDetails::default();

    let stmt = Statement::prepare(db, HYPERPARAMETERS_OF, "read run hyperparameters")?;
    stmt.bind(&[Bind::Text(&ids)])?;
    stmt.each_row(|row| {
        let value =
            serde_json::from_slice(row.bytes(2, "value")?).map_err(|e| crate::error::corrupt("value", e))?;
        details
            .hyperparameters
            .entry(row.i64(0, "training_run_id")?)
            .or_default()
            .insert(row.text(1, "name")?, value);
        Ok(())
    })?;

    let stmt = Statement::prepare(db, TAGS_OF, "read run tags")?;
    stmt.bind(&[Bind::Text(&ids), Bind::Text(Entity::TrainingRun.as_str())])?;
    stmt.each_row(|row| {
        let tags: &mut BTreeMap<_, _> = details.tags.entry(row.i64(0, "entity_id")?).or_default();
        tags.insert(row.text(1, "name")?, row.text(2, "value")?);
        Ok(())
    })?;

    // Per run and name: the best point so far and its order key (step, unset 0; time; id),
    // as `RunSummary::latest_points` orders them.
    let mut best: HashMap<i64, HashMap<String, ((i64, i64, i64), Metric)>> = HashMap::new();
    let stmt = Statement::prepare(db, POINTS_OF, "read latest metrics")?;
    stmt.bind(&[Bind::Text(&ids)])?;
    stmt.each_row(|row| {
        let run = row.i64(0, "training_run_id")?;
        let key = (row.opt_i64(4, "step")?.unwrap_or(0), row.i64(6, "timestamp")?, row.i64(7, "id")?);
        let names = best.entry(run).or_default();
        let name = row.str(1, "metric_name")?;
        match names.get_mut(name) {
            Some((known, _)) if *known >= key => {}
            Some(slot) => *slot = (key, row.metric(TrainingRunId(run), 1)?),
            None => {
                names.insert(name.to_owned(), (key, row.metric(TrainingRunId(run), 1)?));
            }
        }
        Ok(())
    })?;
    details.latest = best
        .into_iter()
        .map(|(run, names)| (run, names.into_iter().map(|(n, (_, m))| (n, m)).collect()))
        .collect();
    Ok(details)
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
    let stmt = Statement::prepare(db, INSERT, "log_metrics")?;
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
            return Err(stmt.error("step"));
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
