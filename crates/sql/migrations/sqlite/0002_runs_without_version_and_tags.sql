-- no-transaction
-- A training run may exist before any model version (MLflow starts runs first and
-- links a registered version later). SQLite cannot drop NOT NULL in place: the table
-- is rebuilt the way SQLite documents (foreign keys off, one transaction).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE training_runs_rebuilt (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    model_version_id  INTEGER REFERENCES model_versions (id),
    dataset_id        INTEGER REFERENCES datasets (id),
    run_name          TEXT,
    status            TEXT    NOT NULL DEFAULT 'started',
    started_at        INTEGER NOT NULL,
    completed_at      INTEGER,
    duration_seconds  REAL,
    final_loss        REAL,
    best_metric_value REAL,
    artifacts         TEXT
);
INSERT INTO training_runs_rebuilt
    (id, model_version_id, dataset_id, run_name, status, started_at, completed_at,
     duration_seconds, final_loss, best_metric_value, artifacts)
SELECT id, model_version_id, dataset_id, run_name, status, started_at, completed_at,
       duration_seconds, final_loss, best_metric_value, artifacts
FROM training_runs;
-- Ids of deleted runs stay unused, as AUTOINCREMENT promised.
DELETE FROM sqlite_sequence WHERE name = 'training_runs_rebuilt';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'training_runs_rebuilt', seq FROM sqlite_sequence WHERE name = 'training_runs';
DROP TABLE training_runs;
ALTER TABLE training_runs_rebuilt RENAME TO training_runs;
CREATE INDEX training_runs_by_version ON training_runs (model_version_id);
CREATE INDEX training_runs_by_dataset ON training_runs (dataset_id);
CREATE INDEX training_runs_by_status ON training_runs (status);
-- Key/value tags on models, versions, runs and experiments (`entity` is the kind's
-- name: model, model_version, training_run, experiment). No foreign key can point at
-- four tables: the store checks the record exists before writing.
CREATE TABLE tags (
    entity    TEXT    NOT NULL,
    entity_id INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    PRIMARY KEY (entity, entity_id, name)
) WITHOUT ROWID;
COMMIT;
PRAGMA foreign_keys = ON;
