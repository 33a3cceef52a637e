"""The real `mlflow` client against a real `aimdb serve` (started by crates/cli/tests/mlflow.rs,
which passes its address in MLFLOW_TRACKING_URI)."""

import json
import os
import urllib.parse
import urllib.request

import pytest


@pytest.fixture(scope="session")
def tracking_uri():
    uri = os.environ["MLFLOW_TRACKING_URI"]
    import mlflow

    mlflow.set_tracking_uri(uri)
    return uri


@pytest.fixture(scope="session")
def aimdb(tracking_uri):
    """GET on aimdb's own API: what aimdb users see of what MLflow logged."""

    def get(path, **query):
        url = f"{tracking_uri}/api/v1/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url) as answer:
            return json.load(answer)

    return get


@pytest.fixture
def client(tracking_uri):
    from mlflow import MlflowClient

    return MlflowClient()
