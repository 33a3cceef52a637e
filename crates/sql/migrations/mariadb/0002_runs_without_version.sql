-- A training run may exist before any model version (MLflow starts runs first and
-- links a registered version later). The foreign key stays.
ALTER TABLE training_runs MODIFY model_version_id BIGINT NULL;
