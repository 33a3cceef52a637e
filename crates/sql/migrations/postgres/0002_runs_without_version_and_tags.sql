-- A training run may exist before any model version (MLflow starts runs first and
-- links a registered version later).
ALTER TABLE training_runs ALTER COLUMN model_version_id DROP NOT NULL;

-- Key/value tags on models, versions, runs and experiments (`entity` is the kind's
-- name: model, model_version, training_run, experiment). No foreign key can point at
-- four tables: the store checks the record exists before writing.
CREATE TABLE tags (
    entity    TEXT   NOT NULL,
    entity_id BIGINT NOT NULL,
    name      TEXT   NOT NULL,
    value     TEXT   NOT NULL,
    PRIMARY KEY (entity, entity_id, name)
);
