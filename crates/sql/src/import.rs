//! [`ImportBatch`] as rows of cells, the same on every SQL database; each backend binds
//! the cells its own way (timestamps, JSON casts) and runs [`Plan::insert_sql`].

use aimdb_core::{Entity, ImportBatch, Timestamp};

use crate::codec::opt_json_text;

/// One value to bind.
#[derive(Debug)]
pub(crate) enum Cell {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
    Json(Option<String>),
    Time(Option<Timestamp>),
}

/// One record to insert.
#[derive(Debug)]
pub(crate) struct Row {
    pub id: i64,
    /// The unique key an `AlreadyExists` names.
    pub key: String,
    /// Records that must exist first.
    pub parents: Vec<(Entity, i64)>,
    /// Values in the order of [`Plan::columns`].
    pub cells: Vec<Cell>,
}

/// The rows of one batch and where they go.
#[derive(Debug)]
pub(crate) struct Plan {
    pub entity: Entity,
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Row>,
}

impl Plan {
    /// `INSERT INTO table (columns) VALUES (...)`, each placeholder from `placeholder(index, cell)`.
    pub fn insert_sql(&self, prefix: &str, placeholder: impl Fn(usize, &Cell) -> String) -> String {
        let cells = &self.rows[0].cells;
        let values: Vec<String> = cells.iter().enumerate().map(|(i, c)| placeholder(i + 1, c)).collect();
        format!(
            "INSERT INTO {} ({}) {prefix}VALUES ({})",
            self.table,
            self.columns.join(", "),
            values.join(", ")
        )
    }

    /// The ids already in the table among `[lowest, highest]` of the batch's ids.
    pub fn existing_ids_sql(&self, placeholders: (&str, &str)) -> String {
        format!("SELECT id FROM {} WHERE id BETWEEN {} AND {}", self.table, placeholders.0, placeholders.1)
    }

    /// Lowest and highest id of the batch (`None` when empty).
    pub fn id_range(&self) -> Option<(i64, i64)> {
        let lo = self.rows.iter().map(|r| r.id).min()?;
        let hi = self.rows.iter().map(|r| r.id).max()?;
        Some((lo, hi))
    }
}

fn text(v: &Option<String>) -> Cell {
    Cell::Text(v.clone())
}

fn json(v: &Option<serde_json::Value>) -> Cell {
    Cell::Json(opt_json_text(v.as_ref()))
}

/// The batch as rows (validate it first).
pub(crate) fn plan(batch: &ImportBatch) -> Plan {
    let entity = batch.entity();
    let (table, columns, rows): (_, &'static [&'static str], Vec<Row>) = match batch {
        ImportBatch::Models(v) => (
            "models",
            &[
                "id",
                "name",
                "description",
                "architecture",
                "framework",
                "task_type",
                "input_shape",
                "output_shape",
                "created_at",
                "updated_at",
            ],
            v.iter()
                .map(|m| Row {
                    id: m.id.0,
                    key: m.name.clone(),
                    parents: vec![],
                    cells: vec![
                        Cell::Int(Some(m.id.0)),
                        Cell::Text(Some(m.name.clone())),
                        text(&m.description),
                        text(&m.architecture),
                        text(&m.framework),
                        text(&m.task_type),
                        json(&m.input_shape),
                        json(&m.output_shape),
                        Cell::Time(Some(m.created_at)),
                        Cell::Time(Some(m.updated_at)),
                    ],
                })
                .collect(),
        ),
        ImportBatch::ModelVersions(v) => (
            "model_versions",
            &["id", "model_id", "version", "checkpoint_path", "config", "status", "created_at"],
            v.iter()
                .map(|m| Row {
                    id: m.id.0,
                    key: format!("{} of model {}", m.version, m.model_id),
                    parents: vec![(Entity::Model, m.model_id.0)],
                    cells: vec![
                        Cell::Int(Some(m.id.0)),
                        Cell::Int(Some(m.model_id.0)),
                        Cell::Text(Some(m.version.clone())),
                        text(&m.checkpoint_path),
                        json(&m.config),
                        Cell::Text(Some(m.status.clone())),
                        Cell::Time(Some(m.created_at)),
                    ],
                })
                .collect(),
        ),
        ImportBatch::Datasets(v) => (
            "datasets",
            &[
                "id",
                "name",
                "description",
                "source_path",
                "format",
                "size_bytes",
                "num_samples",
                "split_info",
                "preprocessing",
                "created_at",
            ],
            v.iter()
                .map(|d| Row {
                    id: d.id.0,
                    key: d.name.clone(),
                    parents: vec![],
                    cells: vec![
                        Cell::Int(Some(d.id.0)),
                        Cell::Text(Some(d.name.clone())),
                        text(&d.description),
                        text(&d.source_path),
                        text(&d.format),
                        Cell::Int(d.size_bytes),
                        Cell::Int(d.num_samples),
                        json(&d.split_info),
                        json(&d.preprocessing),
                        Cell::Time(Some(d.created_at)),
                    ],
                })
                .collect(),
        ),
        ImportBatch::TrainingRuns(v) => (
            "training_runs",
            &[
                "id",
                "model_version_id",
                "dataset_id",
                "run_name",
                "status",
                "started_at",
                "completed_at",
                "duration_seconds",
                "final_loss",
                "best_metric_value",
                "artifacts",
            ],
            v.iter()
                .map(|r| Row {
                    id: r.id.0,
                    key: r.id.to_string(),
                    parents: std::iter::once((Entity::ModelVersion, r.model_version_id.0))
                        .chain(r.dataset_id.map(|d| (Entity::Dataset, d.0)))
                        .collect(),
                    cells: vec![
                        Cell::Int(Some(r.id.0)),
                        Cell::Int(Some(r.model_version_id.0)),
                        Cell::Int(r.dataset_id.map(|d| d.0)),
                        text(&r.run_name),
                        Cell::Text(Some(r.status.clone())),
                        Cell::Time(Some(r.started_at)),
                        Cell::Time(r.completed_at),
                        Cell::Real(r.duration_seconds),
                        Cell::Real(r.final_loss),
                        Cell::Real(r.best_metric_value),
                        json(&r.artifacts),
                    ],
                })
                .collect(),
        ),
        ImportBatch::Experiments(v) => (
            "experiments",
            &["id", "name", "description", "hypothesis", "status", "created_at", "completed_at", "results"],
            v.iter()
                .map(|x| Row {
                    id: x.id.0,
                    key: x.name.clone(),
                    parents: vec![],
                    cells: vec![
                        Cell::Int(Some(x.id.0)),
                        Cell::Text(Some(x.name.clone())),
                        text(&x.description),
                        text(&x.hypothesis),
                        Cell::Text(Some(x.status.clone())),
                        Cell::Time(Some(x.created_at)),
                        Cell::Time(x.completed_at),
                        json(&x.results),
                    ],
                })
                .collect(),
        ),
        ImportBatch::Predictions(v) => (
            "predictions",
            &[
                "id",
                "model_version_id",
                "input_data",
                "output_data",
                "confidence",
                "inference_time_ms",
                "timestamp",
                "metadata",
            ],
            v.iter()
                .map(|p| Row {
                    id: p.id.0,
                    key: p.id.to_string(),
                    parents: vec![(Entity::ModelVersion, p.model_version_id.0)],
                    cells: vec![
                        Cell::Int(Some(p.id.0)),
                        Cell::Int(Some(p.model_version_id.0)),
                        Cell::Json(Some(crate::codec::json_text(&p.input_data))),
                        Cell::Json(Some(crate::codec::json_text(&p.output_data))),
                        Cell::Real(p.confidence),
                        Cell::Real(p.inference_time_ms),
                        Cell::Time(Some(p.timestamp)),
                        json(&p.metadata),
                    ],
                })
                .collect(),
        ),
        _ => unreachable!("every ImportBatch variant is planned"),
    };
    Plan { entity, table, columns, rows }
}

/// Inserts the rows of `plan` whose ids are not in the table yet, inside transaction `tx`
/// (`&mut Transaction`); evaluates to how many were written. Parents are checked once each
/// with the backend's `require`, so a missing one is `NotFound` naming it.
macro_rules! insert_plan {
    ($tx:expr, $plan:expr,bind: $bind:path,require: $require:path,placeholder: $ph:expr,range: $range:expr,prefix: $prefix:expr $(,)?) => {
        async {
            let tx = $tx;
            let plan: &$crate::import::Plan = $plan;
            let Some((lo, hi)) = plan.id_range() else { return Ok(0u64) };
            let existing: std::collections::HashSet<i64> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(plan.existing_ids_sql($range)))
                    .bind(lo)
                    .bind(hi)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(|e| $crate::error::db("import: read existing ids", e))?
                    .into_iter()
                    .collect();
            let sql: std::sync::Arc<str> = plan.insert_sql($prefix, $ph).into();
            let mut checked = std::collections::HashSet::new();
            let mut written = 0u64;
            for row in plan.rows.iter().filter(|r| !existing.contains(&r.id)) {
                for &(entity, id) in &row.parents {
                    if checked.insert((entity, id)) {
                        $require(&mut **tx, entity, id).await?;
                    }
                }
                let mut query = sqlx::query(sqlx::AssertSqlSafe(std::sync::Arc::clone(&sql)));
                for cell in &row.cells {
                    query = $bind(query, cell);
                }
                query.execute(&mut **tx).await.map_err($crate::error::write(plan.entity, &row.key, None))?;
                written += 1;
            }
            Ok::<u64, aimdb_core::Error>(written)
        }
    };
}
