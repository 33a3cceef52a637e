-- aimdb schema for MariaDB. Every text column compares exactly: a binary NO PAD
-- collation, so `ResNet`, `resnet` and `resnet ` are three names (PAD SPACE collations
-- would equate the last two). migrations/mysql is this file with MySQL 8's collation.
-- JSON is LONGTEXT: MySQL's JSON type rewrites documents, and types must round-trip.
-- Times are DATETIME(6) in UTC (TIMESTAMP stops in 2038).

CREATE TABLE models (
    id           BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name         VARCHAR(255) NOT NULL,
    description  LONGTEXT,
    architecture LONGTEXT,
    framework    LONGTEXT,
    task_type    LONGTEXT,
    input_shape  LONGTEXT,
    output_shape LONGTEXT,
    created_at   DATETIME(6) NOT NULL,
    updated_at   DATETIME(6) NOT NULL,
    UNIQUE KEY models_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE model_versions (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    model_id        BIGINT       NOT NULL,
    version         VARCHAR(255) NOT NULL,
    checkpoint_path LONGTEXT,
    config          LONGTEXT,
    status          VARCHAR(255) NOT NULL DEFAULT 'active',
    created_at      DATETIME(6)  NOT NULL,
    UNIQUE KEY model_versions_version (model_id, version),
    KEY model_versions_by_model (model_id, created_at, id),
    CONSTRAINT model_versions_model FOREIGN KEY (model_id) REFERENCES models (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE datasets (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          VARCHAR(255) NOT NULL,
    description   LONGTEXT,
    source_path   LONGTEXT,
    format        LONGTEXT,
    size_bytes    BIGINT,
    num_samples   BIGINT,
    split_info    LONGTEXT,
    preprocessing LONGTEXT,
    created_at    DATETIME(6)  NOT NULL,
    UNIQUE KEY datasets_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE training_runs (
    id                BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    model_version_id  BIGINT       NOT NULL,
    dataset_id        BIGINT,
    run_name          LONGTEXT,
    status            VARCHAR(255) NOT NULL DEFAULT 'started',
    started_at        DATETIME(6)  NOT NULL,
    completed_at      DATETIME(6),
    duration_seconds  DOUBLE,
    final_loss        DOUBLE,
    best_metric_value DOUBLE,
    artifacts         LONGTEXT,
    KEY training_runs_by_status (status),
    CONSTRAINT training_runs_version FOREIGN KEY (model_version_id) REFERENCES model_versions (id),
    CONSTRAINT training_runs_dataset FOREIGN KEY (dataset_id) REFERENCES datasets (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE hyperparameters (
    training_run_id BIGINT       NOT NULL,
    name            VARCHAR(255) NOT NULL,
    value           LONGTEXT     NOT NULL,
    PRIMARY KEY (training_run_id, name),
    CONSTRAINT hyperparameters_run FOREIGN KEY (training_run_id) REFERENCES training_runs (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

-- id records logging order.
CREATE TABLE metrics (
    id              BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    training_run_id BIGINT       NOT NULL,
    metric_name     VARCHAR(255) NOT NULL,
    metric_value    DOUBLE       NOT NULL,
    epoch           BIGINT,
    step            BIGINT,
    split           VARCHAR(255) NOT NULL DEFAULT 'train',
    timestamp       DATETIME(6)  NOT NULL,
    KEY metrics_by_run (training_run_id, id),
    KEY metrics_by_run_name (training_run_id, metric_name, id),
    CONSTRAINT metrics_run FOREIGN KEY (training_run_id) REFERENCES training_runs (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE experiments (
    id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name         VARCHAR(255) NOT NULL,
    description  LONGTEXT,
    hypothesis   LONGTEXT,
    status       VARCHAR(255) NOT NULL DEFAULT 'active',
    created_at   DATETIME(6)  NOT NULL,
    completed_at DATETIME(6),
    results      LONGTEXT,
    UNIQUE KEY experiments_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE experiment_runs (
    id              BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    experiment_id   BIGINT NOT NULL,
    training_run_id BIGINT NOT NULL,
    variant_name    LONGTEXT,
    notes           LONGTEXT,
    UNIQUE KEY experiment_runs_pair (experiment_id, training_run_id),
    CONSTRAINT experiment_runs_experiment FOREIGN KEY (experiment_id) REFERENCES experiments (id),
    CONSTRAINT experiment_runs_run FOREIGN KEY (training_run_id) REFERENCES training_runs (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;

CREATE TABLE predictions (
    id                BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
    model_version_id  BIGINT      NOT NULL,
    input_data        LONGTEXT    NOT NULL,
    output_data       LONGTEXT    NOT NULL,
    confidence        DOUBLE,
    inference_time_ms DOUBLE,
    timestamp         DATETIME(6) NOT NULL,
    metadata          LONGTEXT,
    KEY predictions_by_version (model_version_id, timestamp, id),
    CONSTRAINT predictions_version FOREIGN KEY (model_version_id) REFERENCES model_versions (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_nopad_bin;
