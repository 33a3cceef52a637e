-- aimdb schema for PostgreSQL: native types (TIMESTAMPTZ with microseconds). JSON, not
-- JSONB: JSONB rewrites numbers (1e16 comes back as an integer), and types must round-trip.
-- Identity columns never reuse ids, which vector indexes map to.

CREATE TABLE models (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT        NOT NULL UNIQUE,
    description  TEXT,
    architecture TEXT,
    framework    TEXT,
    task_type    TEXT,
    input_shape  JSON,
    output_shape JSON,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE model_versions (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id        BIGINT      NOT NULL REFERENCES models (id),
    version         TEXT        NOT NULL,
    checkpoint_path TEXT,
    config          JSON,
    status          TEXT        NOT NULL DEFAULT 'active',
    created_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (model_id, version)
);
CREATE INDEX model_versions_by_model ON model_versions (model_id, created_at DESC, id DESC);

CREATE TABLE datasets (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT        NOT NULL UNIQUE,
    description   TEXT,
    source_path   TEXT,
    format        TEXT,
    size_bytes    BIGINT,
    num_samples   BIGINT,
    split_info    JSON,
    preprocessing JSON,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE training_runs (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_version_id  BIGINT      NOT NULL REFERENCES model_versions (id),
    dataset_id        BIGINT REFERENCES datasets (id),
    run_name          TEXT,
    status            TEXT        NOT NULL DEFAULT 'started',
    started_at        TIMESTAMPTZ NOT NULL,
    completed_at      TIMESTAMPTZ,
    duration_seconds  DOUBLE PRECISION,
    final_loss        DOUBLE PRECISION,
    best_metric_value DOUBLE PRECISION,
    artifacts         JSON
);
CREATE INDEX training_runs_by_version ON training_runs (model_version_id);
CREATE INDEX training_runs_by_dataset ON training_runs (dataset_id);
CREATE INDEX training_runs_by_status ON training_runs (status);

CREATE TABLE hyperparameters (
    training_run_id BIGINT NOT NULL REFERENCES training_runs (id),
    name            TEXT   NOT NULL,
    value           JSON  NOT NULL,
    PRIMARY KEY (training_run_id, name)
);

-- id records logging order.
CREATE TABLE metrics (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    training_run_id BIGINT           NOT NULL REFERENCES training_runs (id),
    metric_name     TEXT             NOT NULL,
    metric_value    DOUBLE PRECISION NOT NULL,
    epoch           BIGINT,
    step            BIGINT,
    split           TEXT             NOT NULL DEFAULT 'train',
    timestamp       TIMESTAMPTZ      NOT NULL
);
CREATE INDEX metrics_by_run ON metrics (training_run_id, id);
CREATE INDEX metrics_by_run_name ON metrics (training_run_id, metric_name, id);

CREATE TABLE experiments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT        NOT NULL UNIQUE,
    description  TEXT,
    hypothesis   TEXT,
    status       TEXT        NOT NULL DEFAULT 'active',
    created_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    results      JSON
);

CREATE TABLE experiment_runs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    experiment_id   BIGINT NOT NULL REFERENCES experiments (id),
    training_run_id BIGINT NOT NULL REFERENCES training_runs (id),
    variant_name    TEXT,
    notes           TEXT,
    UNIQUE (experiment_id, training_run_id)
);
CREATE INDEX experiment_runs_by_run ON experiment_runs (training_run_id);

CREATE TABLE predictions (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_version_id  BIGINT      NOT NULL REFERENCES model_versions (id),
    input_data        JSON       NOT NULL,
    output_data       JSON       NOT NULL,
    confidence        DOUBLE PRECISION,
    inference_time_ms DOUBLE PRECISION,
    timestamp         TIMESTAMPTZ NOT NULL,
    metadata          JSON
);
CREATE INDEX predictions_by_version ON predictions (model_version_id, timestamp DESC, id DESC);
