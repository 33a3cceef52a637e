//! Every statement a [`SqlStore`](crate::SqlStore) runs, generated from the tables in
//! `schema.rs` and rendered once per store for its dialect.

use std::sync::Arc;

use crate::dialect::Dialect;
use crate::schema::{EXPERIMENT_RUN_COLUMNS, Kind, METRIC_COLUMNS, TABLES, Table};

/// A statement, shared by every query that runs it (sqlx takes it without a copy).
pub(crate) type Sql = Arc<str>;

/// The statements on one entity table.
#[derive(Debug)]
pub(crate) struct TableSql {
    pub by_id: Sql,
    pub list: Sql,
    /// Insert without the id; the database picks it.
    pub insert: Sql,
    /// Insert with an explicit id (import).
    pub insert_with_id: Sql,
    pub exists: Sql,
    pub ids_between: Sql,
}

/// All statements of a store, in its dialect.
#[derive(Debug)]
pub(crate) struct Statements {
    pub tables: Vec<TableSql>,
    pub model_by_name: Sql,
    pub dataset_by_name: Sql,
    pub versions_of_model: Sql,
    pub predictions_of_version: Sql,
    pub update_run: Sql,
    pub hyperparameters: Sql,
    pub tags: Sql,
    pub delete_tag: Sql,
    pub metrics: Sql,
    pub metrics_named: Sql,
    /// One metric row.
    pub insert_metric: Sql,
    /// A full chunk of [`Dialect::METRIC_CHUNK`] metric rows.
    pub insert_metric_chunk: Sql,
    pub add_experiment_run: Sql,
    pub experiment_runs: Sql,
    pub statistics: Sql,
}

/// Counts of every entity in one round trip; the same SQL on every database.
const STATISTICS: &str = "SELECT (SELECT COUNT(*) FROM models), (SELECT COUNT(*) FROM model_versions), \
     (SELECT COUNT(*) FROM datasets), (SELECT COUNT(*) FROM training_runs), \
     (SELECT COUNT(*) FROM training_runs WHERE status = 'completed'), \
     (SELECT COUNT(*) FROM hyperparameters), (SELECT COUNT(*) FROM metrics), \
     (SELECT COUNT(*) FROM experiments), (SELECT COUNT(*) FROM experiment_runs), \
     (SELECT COUNT(*) FROM predictions)";

fn names(columns: &[(&str, Kind)]) -> String {
    columns.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// Columns to select; JSON read as text.
fn select_list(columns: &[(&str, Kind)]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .map(|(n, k)| if *k == Kind::Json { format!("{n}::text") } else { (*n).to_owned() })
        .collect();
    cols.join(", ")
}

/// `(?, ?::json, ...)` for one row of `columns`.
fn row_placeholders(columns: &[(&str, Kind)]) -> String {
    let marks: Vec<&str> =
        columns.iter().map(|(_, k)| if *k == Kind::Json { "?::json" } else { "?" }).collect();
    format!("({})", marks.join(", "))
}

fn sql<D: Dialect>(template: &str) -> Sql {
    D::render(template).into()
}

/// `INSERT INTO table (columns) VALUES (...), ...` for `rows` rows, before rendering.
fn insert_template(table: &str, columns: &[(&str, Kind)], rows: usize) -> String {
    let row = row_placeholders(columns);
    let values = vec![row.as_str(); rows].join(", ");
    format!("INSERT INTO {table} ({}) VALUES {values}", names(columns))
}

/// `rows` metric rows in one insert.
pub(crate) fn insert_metrics<D: Dialect>(rows: usize) -> Sql {
    sql::<D>(&insert_template("metrics", METRIC_COLUMNS, rows))
}

/// Selects the rows of `table` whose id is one of `n` parameters.
pub(crate) fn select_ids<D: Dialect>(table: &Table, n: usize) -> Sql {
    sql::<D>(&format!("SELECT {} FROM {} WHERE id IN ({})", select_list(table.columns), table.name, marks(n)))
}

/// `n` parameters for an `IN` list.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The hyperparameters of `n` runs: run id, name, value.
pub(crate) fn hyperparameters_of<D: Dialect>(n: usize) -> Sql {
    sql::<D>(&format!(
        "SELECT training_run_id, name, value::text FROM hyperparameters WHERE training_run_id IN ({})",
        marks(n)
    ))
}

/// The tags of `n` records of one entity (the first parameter): id, name, value.
pub(crate) fn tags_of<D: Dialect>(n: usize) -> Sql {
    sql::<D>(&format!(
        "SELECT entity_id, name, value FROM tags WHERE entity = ? AND entity_id IN ({})",
        marks(n)
    ))
}

/// The latest point of each metric of `n` runs (greatest step, then time, then the last
/// written: [`aimdb_core::RunSummary::latest_points`]), as run id and [`METRIC_COLUMNS`].
pub(crate) fn latest_metrics_of<D: Dialect>(n: usize) -> Sql {
    let columns = names(METRIC_COLUMNS);
    sql::<D>(&format!(
        "SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER (PARTITION BY training_run_id, metric_name \
         ORDER BY COALESCE(step, 0) DESC, timestamp DESC, id DESC) AS latest_rank \
         FROM metrics WHERE training_run_id IN ({})) ranked WHERE latest_rank = 1",
        marks(n)
    ))
}

/// The hyperparameter upsert for `rows` names.
pub(crate) fn upsert_hyperparameters<D: Dialect>(rows: usize) -> Sql {
    let columns = &[("training_run_id", Kind::Int), ("name", Kind::Text), ("value", Kind::Json)];
    sql::<D>(&format!("{} {}", insert_template("hyperparameters", columns, rows), D::UPSERT_HYPERPARAMETER))
}

/// The tag upsert for `rows` names.
pub(crate) fn upsert_tags<D: Dialect>(rows: usize) -> Sql {
    let columns =
        &[("entity", Kind::Text), ("entity_id", Kind::Int), ("name", Kind::Text), ("value", Kind::Text)];
    sql::<D>(&format!("{} {}", insert_template("tags", columns, rows), D::UPSERT_TAG))
}

impl TableSql {
    fn new<D: Dialect>(t: &Table) -> Self {
        let select = format!("SELECT {} FROM {}", select_list(t.columns), t.name);
        let returning = if D::RETURNING_ID { " RETURNING id" } else { "" };
        let without_id = &t.columns[1..];
        TableSql {
            by_id: sql::<D>(&format!("{select} WHERE id = ?")),
            list: sql::<D>(&format!("{select} WHERE id > ? ORDER BY id LIMIT ?")),
            insert: sql::<D>(&format!(
                "INSERT INTO {} ({}) VALUES {}{returning}",
                t.name,
                names(without_id),
                row_placeholders(without_id)
            )),
            insert_with_id: sql::<D>(&format!(
                "INSERT INTO {} ({}) {}VALUES {}",
                t.name,
                names(t.columns),
                D::EXPLICIT_ID,
                row_placeholders(t.columns)
            )),
            exists: sql::<D>(&format!("SELECT 1 FROM {} WHERE id = ?", t.name)),
            ids_between: sql::<D>(&format!("SELECT id FROM {} WHERE id BETWEEN ? AND ?", t.name)),
        }
    }
}

impl Statements {
    pub fn new<D: Dialect>() -> Self {
        let select = |t: &Table, rest: &str| {
            sql::<D>(&format!("SELECT {} FROM {} {rest}", select_list(t.columns), t.name))
        };
        let [models, versions, datasets, _, _, predictions] = TABLES;
        let metrics =
            format!("SELECT {} FROM metrics WHERE training_run_id = ?", names(&METRIC_COLUMNS[1..]));
        Statements {
            tables: TABLES.iter().map(|t| TableSql::new::<D>(t)).collect(),
            model_by_name: select(models, "WHERE name = ?"),
            dataset_by_name: select(datasets, "WHERE name = ?"),
            versions_of_model: select(versions, "WHERE model_id = ? ORDER BY created_at DESC, id DESC"),
            predictions_of_version: select(
                predictions,
                "WHERE model_version_id = ? ORDER BY timestamp DESC, id DESC LIMIT ?",
            ),
            update_run: sql::<D>(
                "UPDATE training_runs SET model_version_id = COALESCE(?, model_version_id), \
                 status = COALESCE(?, status), \
                 completed_at = COALESCE(?, completed_at), duration_seconds = COALESCE(?, duration_seconds), \
                 final_loss = COALESCE(?, final_loss), best_metric_value = COALESCE(?, best_metric_value), \
                 artifacts = COALESCE(?::json, artifacts) WHERE id = ?",
            ),
            hyperparameters: sql::<D>(
                "SELECT name, value::text FROM hyperparameters WHERE training_run_id = ?",
            ),
            tags: sql::<D>("SELECT name, value FROM tags WHERE entity = ? AND entity_id = ? ORDER BY name"),
            delete_tag: sql::<D>("DELETE FROM tags WHERE entity = ? AND entity_id = ? AND name = ?"),
            metrics: sql::<D>(&format!("{metrics} ORDER BY id")),
            metrics_named: sql::<D>(&format!("{metrics} AND metric_name = ? ORDER BY id")),
            insert_metric: insert_metrics::<D>(1),
            insert_metric_chunk: insert_metrics::<D>(D::METRIC_CHUNK),
            add_experiment_run: sql::<D>(
                "INSERT INTO experiment_runs (experiment_id, training_run_id, variant_name, notes) \
                 VALUES (?, ?, ?, ?)",
            ),
            experiment_runs: sql::<D>(&format!(
                "SELECT {EXPERIMENT_RUN_COLUMNS} FROM experiment_runs er \
                 JOIN training_runs tr ON tr.id = er.training_run_id WHERE er.experiment_id = ? ORDER BY er.id"
            )),
            statistics: STATISTICS.into(),
        }
    }
}
