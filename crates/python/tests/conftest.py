"""Fixtures: a database per test on each backend the machine has.

SQLite and the seed's `faiss` preset always run; the servers `cargo xtask services up`
starts (their URLs in `AIMDB_TEST_*_URL`) run when set. Under `CI=true` a missing server
fails the run instead of skipping, as in the Rust suites.
"""

from __future__ import annotations

import os
import uuid
from typing import Callable, Iterator, NoReturn

import pytest

import aimdb

SERVERS = {
    "postgresql": "AIMDB_TEST_POSTGRES_URL",
    "mysql": "AIMDB_TEST_MYSQL_URL",
    "redis": "AIMDB_TEST_REDIS_URL",
    "mongodb": "AIMDB_TEST_MONGODB_URL",
}
CHROMA = "AIMDB_TEST_CHROMA_URL"


def unique(name: str) -> str:
    """Names are unique per server, and the servers are shared by every test."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def unavailable(message: str) -> NoReturn:
    """Skips a test whose server or tool is missing; under `CI=true` that is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require(variable: str, how: str) -> str:
    """The environment variable's value, or the test skips (fails under CI) saying `how`."""
    value = os.environ.get(variable)
    if not value:
        unavailable(f"{variable} is not set ({how})")
    return value


def server_url(backend: str) -> str:
    variable = SERVERS.get(backend, CHROMA)
    url = require(variable, f"cargo xtask services up {backend}")
    if backend == "redis":
        # Each test in a namespace of its own on the shared server.
        url += ("&" if "?" in url else "?") + f"namespace={unique('py')}"
    return url


def open_backend(backend: str, tmp_path) -> aimdb.Database:
    if backend == "sqlite":
        return aimdb.create_ai_database(backend="sqlite", db_path=str(tmp_path / "aimdb.db"))
    if backend == "faiss":
        return aimdb.create_ai_database(backend="faiss", index_path=str(tmp_path / "faiss_index"), dimension=384)
    if backend == "memory":
        return aimdb.create_ai_database(backend="memory")
    if backend == "chromadb":
        # SQLite beside a Chroma database of the test's own: the server is shared.
        return aimdb.create_ai_database(
            metadata={"url": f"sqlite://{tmp_path / 'metadata.db'}"},
            vectors={"kind": "chroma", "url": server_url("chromadb"), "database": unique("py").replace("-", "_")},
        )
    return aimdb.create_ai_database(url=server_url(backend))


@pytest.fixture(params=["sqlite", "faiss", *SERVERS])
def db(request, tmp_path) -> Iterator[aimdb.Database]:
    """A database on every backend: the seed's methods behave the same on each."""
    with open_backend(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def faiss_db(tmp_path) -> Iterator[aimdb.Database]:
    """The seed's `faiss` preset: SQLite metadata and FAISS index files in one directory."""
    with open_backend("faiss", tmp_path) as database:
        yield database


@pytest.fixture
def name() -> Callable[[str], str]:
    return unique
