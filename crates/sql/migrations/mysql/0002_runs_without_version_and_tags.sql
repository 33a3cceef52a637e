-- A training run may exist before any model version (MLflow starts runs first and
-- links a registered version later). The foreign key stays.
ALTER TABLE training_runs MODIFY model_version_id BIGINT NULL;

-- Key/value tags on models, versions, runs and experiments (`entity` is the kind's
-- name: model, model_version, training_run, experiment). No foreign key can point at
-- four tables: the store checks the record exists before writing.
CREATE TABLE tags (
    entity    VARCHAR(32)  NOT NULL,
    entity_id BIGINT       NOT NULL,
    name      VARCHAR(255) NOT NULL,
    value     LONGTEXT     NOT NULL,
    PRIMARY KEY (entity, entity_id, name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_0900_bin;
