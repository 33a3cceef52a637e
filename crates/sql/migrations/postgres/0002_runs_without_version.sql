-- A training run may exist before any model version (MLflow starts runs first and
-- links a registered version later).
ALTER TABLE training_runs ALTER COLUMN model_version_id DROP NOT NULL;
