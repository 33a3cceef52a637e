-- aimdb schema for SQLite. Timestamps are INTEGER microseconds since the Unix epoch
-- (UTC): compact, exact, and sortable. JSON is TEXT written by serde_json.
-- AUTOINCREMENT keeps ids from ever being reused, since vector indexes map to them.

CREATE TABLE models (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    description  TEXT,
    architecture TEXT,
    framework    TEXT,
    task_type    TEXT,
    input_shape  TEXT,
    output_shape TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

CREATE TABLE model_versions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id        INTEGER NOT NULL REFERENCES models (id),
    version         TEXT    NOT NULL,
    checkpoint_path TEXT,
    config          TEXT,
    status          TEXT    NOT NULL DEFAULT 'active',
    created_at      INTEGER NOT NULL,
    UNIQUE (model_id, version)
);
-- get_model_versions: newest first per model.
CREATE INDEX model_versions_by_model ON model_versions (model_id, created_at DESC, id DESC);

CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    description   TEXT,
    source_path   TEXT,
    format        TEXT,
    size_bytes    INTEGER,
    num_samples   INTEGER,
    split_info    TEXT,
    preprocessing TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE training_runs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    model_version_id  INTEGER NOT NULL REFERENCES model_versions (id),
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
-- Foreign-key lookups and the completed_runs statistic.
CREATE INDEX training_runs_by_version ON training_runs (model_version_id);
CREATE INDEX training_runs_by_dataset ON training_runs (dataset_id);
CREATE INDEX training_runs_by_status ON training_runs (status);

CREATE TABLE hyperparameters (
    training_run_id INTEGER NOT NULL REFERENCES training_runs (id),
    name            TEXT    NOT NULL,
    value           TEXT    NOT NULL,
    PRIMARY KEY (training_run_id, name)
) WITHOUT ROWID;

-- id is the rowid, so it records logging order.
CREATE TABLE metrics (
    id              INTEGER PRIMARY KEY,
    training_run_id INTEGER NOT NULL REFERENCES training_runs (id),
    metric_name     TEXT    NOT NULL,
    metric_value    REAL    NOT NULL,
    epoch           INTEGER,
    step            INTEGER,
    split           TEXT    NOT NULL DEFAULT 'train',
    timestamp       INTEGER NOT NULL
);
-- An index on (run) holds (run, rowid): get_metrics(run) reads in logging order
-- without sorting; (run, name) does the same for one metric.
CREATE INDEX metrics_by_run ON metrics (training_run_id);
CREATE INDEX metrics_by_run_name ON metrics (training_run_id, metric_name);

CREATE TABLE experiments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    description  TEXT,
    hypothesis   TEXT,
    status       TEXT    NOT NULL DEFAULT 'active',
    created_at   INTEGER NOT NULL,
    completed_at INTEGER,
    results      TEXT
);

CREATE TABLE experiment_runs (
    id              INTEGER PRIMARY KEY,
    experiment_id   INTEGER NOT NULL REFERENCES experiments (id),
    training_run_id INTEGER NOT NULL REFERENCES training_runs (id),
    variant_name    TEXT,
    notes           TEXT,
    UNIQUE (experiment_id, training_run_id)
);
CREATE INDEX experiment_runs_by_run ON experiment_runs (training_run_id);

CREATE TABLE predictions (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    model_version_id  INTEGER NOT NULL REFERENCES model_versions (id),
    input_data        TEXT    NOT NULL,
    output_data       TEXT    NOT NULL,
    confidence        REAL,
    inference_time_ms REAL,
    timestamp         INTEGER NOT NULL,
    metadata          TEXT
);
-- get_predictions: newest first per version.
CREATE INDEX predictions_by_version ON predictions (model_version_id, timestamp DESC, id DESC);
