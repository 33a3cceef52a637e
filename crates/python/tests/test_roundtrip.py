"""One engine, two doors: what the Rust `aimdb` CLI writes Python reads, and back."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import aimdb
from conftest import require


def cli(url: str, *args: str) -> str:
    binary = require("AIMDB_BIN", "the `aimdb` CLI built by cargo")
    env = {**os.environ, "AIMDB_DATABASE_URL": url, "EMBEDDING_MODEL_NAME": "hash"}
    return subprocess.run([binary, "--json", *args], env=env, check=True, capture_output=True, text=True).stdout


def test_written_by_rust_read_by_python_and_back(tmp_path):
    url = f"sqlite://{tmp_path / 'shared.db'}"
    model = json.loads(cli(url, "models", "create", "resnet50", "--framework", "pytorch",
                           "--description", "Deep residual network"))
    run = json.loads(cli(url, "runs", "create", "--name", "from-rust"))
    cli(url, "metrics", "log", str(run["id"]), "loss", "0.5", "--epoch", "1", "--step", "10")

    with aimdb.create_ai_database(url=url) as db:
        got = db.get_model(model["id"])
        assert (got["name"], got["framework"], got["description"]) == ("resnet50", "pytorch", "Deep residual network")
        assert got["created_at"].isoformat().replace("+00:00", "Z") == model["created_at"]
        assert db.get_training_run(run["id"])["run_name"] == "from-rust"
        [point] = db.get_metrics(run["id"])
        assert (point["metric_name"], point["metric_value"], point["epoch"], point["step"]) == ("loss", 0.5, 1, 10)
        dataset_id = db.create_dataset("imagenet", "photographs", format="jpeg", num_samples=1_281_167)
        db.log_metric(run["id"], "loss", 0.25, epoch=2, step=20)

    dataset = json.loads(cli(url, "datasets", "get", str(dataset_id)))
    assert (dataset["name"], dataset["format"], dataset["num_samples"]) == ("imagenet", "jpeg", 1_281_167)
    points = json.loads(cli(url, "metrics", "get", str(run["id"])))
    assert [p["metric_value"] for p in points] == [0.5, 0.25]
