"""Type stubs of the extension module (``aimdb._aimdb``), re-exported by ``aimdb``."""

from __future__ import annotations

from datetime import datetime
from os import PathLike
from types import TracebackType
from typing import Any, Iterable, Literal, Mapping, Optional, TypedDict, Union

__version__: str

JSON = Any
"""Anything ``json.dumps`` accepts: dict, list, str, int, float, bool, None."""

class Model(TypedDict):
    id: int
    name: str
    description: Optional[str]
    architecture: Optional[str]
    framework: Optional[str]
    task_type: Optional[str]
    input_shape: JSON
    output_shape: JSON
    created_at: datetime
    updated_at: datetime

class ModelVersion(TypedDict):
    id: int
    model_id: int
    version: str
    checkpoint_path: Optional[str]
    config: JSON
    status: str
    created_at: datetime

class Dataset(TypedDict):
    id: int
    name: str
    description: Optional[str]
    source_path: Optional[str]
    format: Optional[str]
    size_bytes: Optional[int]
    num_samples: Optional[int]
    split_info: JSON
    preprocessing: JSON
    created_at: datetime

class TrainingRun(TypedDict):
    id: int
    model_version_id: Optional[int]
    dataset_id: Optional[int]
    run_name: Optional[str]
    status: str
    started_at: datetime
    completed_at: Optional[datetime]
    duration_seconds: Optional[float]
    final_loss: Optional[float]
    best_metric_value: Optional[float]
    artifacts: JSON

class Metric(TypedDict):
    training_run_id: int
    metric_name: str
    metric_value: float
    epoch: Optional[int]
    step: Optional[int]
    split: str
    timestamp: datetime

class Experiment(TypedDict):
    id: int
    name: str
    description: Optional[str]
    hypothesis: Optional[str]
    status: str
    created_at: datetime
    completed_at: Optional[datetime]
    results: JSON

class ExperimentRun(TypedDict):
    experiment_id: int
    training_run_id: int
    variant_name: Optional[str]
    notes: Optional[str]
    status: str
    final_loss: Optional[float]
    best_metric_value: Optional[float]

class Prediction(TypedDict):
    id: int
    model_version_id: int
    input_data: JSON
    output_data: JSON
    confidence: Optional[float]
    inference_time_ms: Optional[float]
    timestamp: datetime
    metadata: JSON

class ModelHit(Model):
    similarity_score: float

class DatasetHit(Dataset):
    similarity_score: float

class PredictionHit(Prediction):
    similarity_score: float

class _MetricRequired(TypedDict):
    metric_name: str
    metric_value: float

class NewMetric(_MetricRequired, total=False):
    """One item of ``log_metrics``."""

    epoch: Optional[int]
    step: Optional[int]
    split: Optional[str]
    timestamp: Optional[datetime]

class _PredictionRequired(TypedDict):
    input_data: JSON
    output_data: JSON

class NewPrediction(_PredictionRequired, total=False):
    """One item of ``log_predictions``."""

    confidence: Optional[float]
    inference_time_ms: Optional[float]
    metadata: JSON
    timestamp: Optional[datetime]

Collection = Literal["models", "datasets", "predictions"]

def create_ai_database(
    backend: Optional[str] = None,
    *,
    url: Optional[str] = None,
    config: Union[str, PathLike[str], None] = None,
    dimension: Optional[int] = None,
    **options: Any,
) -> Database:
    """Opens (creating if needed) a database: the seed's ``backend`` and keywords
    (``db_path``, ``connection_string``, ``host``, ``port``, ``database``, ``user``,
    ``password``, ``persist_directory``, ``index_path``, ``echo``, ...), or ``url=``, or
    ``config=`` (a YAML file). ``dimension`` is checked against the embedder."""

class Database:
    """An open aimdb database; a context manager that closes it on exit."""

    def __enter__(self) -> Database: ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    def close(self) -> None: ...

    # models
    def create_model(
        self,
        name: str,
        description: Optional[str] = None,
        architecture: Optional[str] = None,
        framework: Optional[str] = None,
        task_type: Optional[str] = None,
        input_shape: JSON = None,
        output_shape: JSON = None,
    ) -> int: ...
    def get_model(self, model: Union[int, str]) -> Model: ...
    def list_models(self, limit: int = 100, after: Optional[int] = None) -> list[Model]: ...
    def search_similar_models(
        self,
        query: str,
        n_results: int = 5,
        *,
        framework: Optional[str] = None,
        architecture: Optional[str] = None,
        task_type: Optional[str] = None,
    ) -> list[ModelHit]: ...

    # model versions
    def create_model_version(
        self,
        model_id: int,
        version: str,
        checkpoint_path: Optional[str] = None,
        config: JSON = None,
        status: Optional[str] = None,
    ) -> int: ...
    def get_model_versions(self, model_id: int) -> list[ModelVersion]: ...
    def get_model_version(self, version_id: int) -> ModelVersion: ...

    # datasets
    def create_dataset(
        self,
        name: str,
        description: Optional[str] = None,
        source_path: Optional[str] = None,
        format: Optional[str] = None,
        size_bytes: Optional[int] = None,
        num_samples: Optional[int] = None,
        split_info: JSON = None,
        preprocessing: JSON = None,
    ) -> int: ...
    def get_dataset(self, dataset: Union[int, str]) -> Dataset: ...
    def list_datasets(self, limit: int = 100, after: Optional[int] = None) -> list[Dataset]: ...
    def search_similar_datasets(
        self, query: str, n_results: int = 5, *, format: Optional[str] = None
    ) -> list[DatasetHit]: ...

    # training runs
    def create_training_run(
        self,
        model_version_id: Optional[int],
        dataset_id: Optional[int] = None,
        run_name: Optional[str] = None,
        status: Optional[str] = None,
        started_at: Optional[datetime] = None,
        artifacts: JSON = None,
    ) -> int: ...
    def update_training_run(
        self,
        run_id: int,
        status: Optional[str] = None,
        final_loss: Optional[float] = None,
        best_metric_value: Optional[float] = None,
        completed_at: Optional[datetime] = None,
        duration_seconds: Optional[float] = None,
        artifacts: JSON = None,
        model_version_id: Optional[int] = None,
    ) -> TrainingRun: ...
    def get_training_run(self, run_id: int) -> TrainingRun: ...
    def list_training_runs(self, limit: int = 100, after: Optional[int] = None) -> list[TrainingRun]: ...

    # hyperparameters and metrics
    def log_hyperparameters(self, training_run_id: int, params: Mapping[str, JSON]) -> None: ...
    def get_hyperparameters(self, training_run_id: int) -> dict[str, JSON]: ...
    def log_metric(
        self,
        training_run_id: int,
        metric_name: str,
        metric_value: float,
        epoch: Optional[int] = None,
        step: Optional[int] = None,
        split: Optional[str] = None,
        timestamp: Optional[datetime] = None,
    ) -> None: ...
    def log_metrics(self, training_run_id: int, metrics: Iterable[NewMetric]) -> int: ...
    def get_metrics(self, training_run_id: int, metric_name: Optional[str] = None) -> list[Metric]: ...

    # predictions
    def log_prediction(
        self,
        model_version_id: int,
        input_data: JSON,
        output_data: JSON,
        confidence: Optional[float] = None,
        inference_time_ms: Optional[float] = None,
        metadata: JSON = None,
        timestamp: Optional[datetime] = None,
    ) -> int: ...
    def log_predictions(self, model_version_id: int, predictions: Iterable[NewPrediction]) -> list[int]: ...
    def get_predictions(self, model_version_id: int, limit: int = 100) -> list[Prediction]: ...
    def search_similar_predictions(
        self, query: str, n_results: int = 10, *, model_version_id: Optional[int] = None
    ) -> list[PredictionHit]: ...

    # experiments
    def create_experiment(
        self,
        name: str,
        description: Optional[str] = None,
        hypothesis: Optional[str] = None,
        status: Optional[str] = None,
        results: JSON = None,
        completed_at: Optional[datetime] = None,
    ) -> int: ...
    def get_experiment(self, experiment_id: int) -> Experiment: ...
    def add_experiment_run(
        self,
        experiment_id: int,
        training_run_id: int,
        variant_name: Optional[str] = None,
        notes: Optional[str] = None,
    ) -> None: ...
    def get_experiment_runs(self, experiment_id: int) -> list[ExperimentRun]: ...

    # the database and its index
    def get_statistics(self) -> dict[str, Any]: ...
    def reindex(self) -> dict[str, int]: ...
    def optimize_index(self, collection_name: Collection) -> dict[str, Any]: ...
