"""The exceptions aimdb raises: one class per error kind of the engine, all ``AimdbError``.

The engine's error fields are attributes (``InvalidInput.field``, ``NotFound.entity``, ...),
so code can branch on them without parsing messages.
"""

from __future__ import annotations

from typing import Any


class AimdbError(Exception):
    """Every error aimdb raises. ``retryable`` says whether the same call may succeed later."""

    retryable: bool = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        for name, value in details.items():
            setattr(self, name, value)


class NotFound(AimdbError, LookupError):
    """The record (or one it refers to) does not exist."""

    entity: str
    key: str


class AlreadyExists(AimdbError):
    """A record with the same unique key (a name, a model's version label) exists."""

    entity: str
    key: str


class InvalidInput(AimdbError, ValueError):
    """The request was refused before anything was written; ``field`` names the culprit
    (``name``, ``metrics[3].metric_value``)."""

    field: str
    reason: str


class DimensionMismatch(AimdbError, ValueError):
    """A vector's length differs from the embedder's or the index's (``reindex`` fixes an
    index built with another embedder)."""

    context: str
    expected: int
    actual: int


class Unavailable(AimdbError):
    """The backend could not be reached; the call may succeed if retried."""

    retryable = True


class ConfigError(AimdbError):
    """The configuration is wrong (the message names the key) or names a backend that is
    not compiled in."""


class BackendError(AimdbError):
    """Any other failure of the backend (the driver's message follows)."""


__all__ = [
    "AimdbError",
    "AlreadyExists",
    "BackendError",
    "ConfigError",
    "DimensionMismatch",
    "InvalidInput",
    "NotFound",
    "Unavailable",
]
