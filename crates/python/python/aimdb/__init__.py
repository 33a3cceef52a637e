"""aimdb: an AI model database. Record models, versions, datasets, training runs,
hyperparameters, metrics, experiments and predictions on SQLite, PostgreSQL, MySQL, Redis or
MongoDB, and find them by meaning (FAISS or Chroma, all-MiniLM-L6-v2 embeddings).

>>> import aimdb
>>> db = aimdb.create_ai_database(backend="memory")
>>> model_id = db.create_model("resnet50", "Deep residual network for image recognition")
>>> db.get_model(model_id)["name"]
'resnet50'
>>> db.close()

The engine is Rust (the ``aimdb`` crate); every call releases the GIL while it works.
"""

from ._aimdb import Database, __version__, create_ai_database
from .errors import (
    AimdbError,
    AlreadyExists,
    BackendError,
    ConfigError,
    DimensionMismatch,
    InvalidInput,
    NotFound,
    Unavailable,
)

__all__ = [
    "AimdbError",
    "AlreadyExists",
    "BackendError",
    "ConfigError",
    "Database",
    "DimensionMismatch",
    "InvalidInput",
    "NotFound",
    "Unavailable",
    "__version__",
    "create_ai_database",
]
