"""Every method of the seed's API, on every backend (the `db` fixture)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

import aimdb


def test_models_versions_and_datasets(db, name):
    model_name = name("resnet50")
    model_id = db.create_model(
        model_name,
        "Deep residual network for image recognition",
        "ResNet-50",
        "pytorch",
        "image_classification",
        input_shape=[None, 3, 224, 224],
        output_shape={"classes": 1000},
    )
    assert isinstance(model_id, int)
    model = db.get_model(model_id)
    assert model["id"] == model_id
    assert model["name"] == model_name
    assert model["architecture"] == "ResNet-50"
    assert model["framework"] == "pytorch"
    assert model["task_type"] == "image_classification"
    assert model["input_shape"] == [None, 3, 224, 224]
    assert model["output_shape"] == {"classes": 1000}
    assert model["created_at"].tzinfo is not None
    assert abs(model["created_at"] - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert db.get_model(model_name) == model, "by name as by id"
    assert model_id in [m["id"] for m in db.list_models(limit=10_000)]

    v1 = db.create_model_version(model_id, "1.0.0", "/ckpt/1.pt", {"lr": 3e-4, "layers": [3, 4, 6, 3]})
    v2 = db.create_model_version(model_id, "1.1.0", status="staging")
    versions = db.get_model_versions(model_id)
    assert [v["id"] for v in versions] == [v2, v1], "newest first"
    assert versions[1]["config"] == {"lr": 3e-4, "layers": [3, 4, 6, 3]}
    assert versions[1]["status"] == "active"
    assert versions[0]["status"] == "staging"
    assert db.get_model_version(v1)["checkpoint_path"] == "/ckpt/1.pt"

    dataset_name = name("imagenet")
    dataset_id = db.create_dataset(
        dataset_name,
        "1.2M labelled photographs in 1000 classes",
        "/data/imagenet",
        "jpeg",
        150_000_000_000,
        1_281_167,
        {"train": 0.9, "val": 0.1},
        ["resize", "normalize"],
    )
    dataset = db.get_dataset(dataset_id)
    assert dataset["size_bytes"] == 150_000_000_000
    assert dataset["num_samples"] == 1_281_167
    assert dataset["split_info"] == {"train": 0.9, "val": 0.1}
    assert dataset["preprocessing"] == ["resize", "normalize"]
    assert db.get_dataset(dataset_name)["id"] == dataset_id
    assert dataset_id in [d["id"] for d in db.list_datasets(limit=10_000)]


def test_list_pages_in_id_order(db, name):
    ids = [db.create_model(name(f"page-{i}")) for i in range(5)]
    first = db.list_models(limit=2, after=ids[0] - 1)
    assert [m["id"] for m in first] == ids[:2]
    rest = db.list_models(limit=3, after=first[-1]["id"])
    assert [m["id"] for m in rest] == ids[2:]


def test_training_runs_hyperparameters_and_metrics(db, name):
    model_id = db.create_model(name("bert"))
    version_id = db.create_model_version(model_id, "1")
    dataset_id = db.create_dataset(name("glue"))
    run_id = db.create_training_run(version_id, dataset_id, "baseline", artifacts={"weights": "s3://w"})
    run = db.get_training_run(run_id)
    assert (run["model_version_id"], run["dataset_id"], run["run_name"]) == (version_id, dataset_id, "baseline")
    assert run["status"] == "started"
    assert run["completed_at"] is None
    assert run["artifacts"] == {"weights": "s3://w"}

    params = {"lr": 3e-4, "batch_size": 32, "optimizer": "adamw", "betas": [0.9, 0.999], "amp": True}
    db.log_hyperparameters(run_id, params)
    db.log_hyperparameters(run_id, {"batch_size": 64})
    got = db.get_hyperparameters(run_id)
    assert got == {**params, "batch_size": 64}
    assert isinstance(got["batch_size"], int) and isinstance(got["lr"], float), "JSON types kept"

    db.log_metric(run_id, "loss", 0.9, epoch=1, step=100)
    db.log_metric(run_id, "accuracy", 0.71, 1, 100, "val")
    when = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=timezone(timedelta(hours=2)))
    assert db.log_metrics(run_id, [
        {"metric_name": "loss", "metric_value": 0.5, "epoch": 2, "step": 200},
        {"metric_name": "loss", "metric_value": 0.25, "epoch": 3, "step": 300, "split": "train", "timestamp": when},
    ]) == 2
    metrics = db.get_metrics(run_id)
    assert [(m["metric_name"], m["metric_value"], m["split"]) for m in metrics] == [
        ("loss", 0.9, "train"),
        ("accuracy", 0.71, "val"),
        ("loss", 0.5, "train"),
        ("loss", 0.25, "train"),
    ], "in logging order, split train unless given"
    loss = db.get_metrics(run_id, "loss")
    assert [m["step"] for m in loss] == [100, 200, 300]
    assert loss[-1]["timestamp"] == when, "aware datetimes come back equal (in UTC)"
    assert loss[-1]["timestamp"].utcoffset() == timedelta(0)

    updated = db.update_training_run(run_id, "completed", 0.25, best_metric_value=0.71)
    assert updated["status"] == "completed"
    assert updated["final_loss"] == 0.25
    assert updated["completed_at"] is not None, "completing stamps the time"
    assert updated["run_name"] == "baseline", "a partial update keeps the other fields"
    assert db.get_training_run(run_id) == updated
    assert run_id in [r["id"] for r in db.list_training_runs(limit=10_000)]

    unlinked = db.create_training_run(None, run_name="exploratory")
    assert db.get_training_run(unlinked)["model_version_id"] is None
    linked = db.update_training_run(unlinked, model_version_id=version_id)
    assert linked["model_version_id"] == version_id


def test_predictions(db, name):
    version_id = db.create_model_version(db.create_model(name("sentiment")), "1")
    first = db.log_prediction(version_id, {"text": "great movie"}, {"label": "positive"}, 0.97, 12.5, {"user": 7})
    ids = db.log_predictions(version_id, [
        {"input_data": {"text": "awful plot"}, "output_data": {"label": "negative"}, "confidence": 0.91},
        {"input_data": "raw text", "output_data": [0.1, 0.9]},
    ])
    assert len(ids) == 2 and first < ids[0] < ids[1]
    predictions = db.get_predictions(version_id)
    assert [p["id"] for p in predictions] == [ids[1], ids[0], first], "newest first"
    oldest = predictions[-1]
    assert oldest["input_data"] == {"text": "great movie"}
    assert (oldest["confidence"], oldest["inference_time_ms"], oldest["metadata"]) == (0.97, 12.5, {"user": 7})
    assert predictions[0]["output_data"] == [0.1, 0.9]
    assert len(db.get_predictions(version_id, limit=1)) == 1


def test_experiments(db, name):
    version_id = db.create_model_version(db.create_model(name("vit")), "1")
    experiment_id = db.create_experiment(name("lr-sweep"), "Which learning rate?", "3e-4 beats 1e-3")
    experiment = db.get_experiment(experiment_id)
    assert (experiment["hypothesis"], experiment["status"]) == ("3e-4 beats 1e-3", "active")
    runs = [db.create_training_run(version_id, run_name=f"lr-{i}") for i in range(2)]
    db.update_training_run(runs[0], "completed", 0.3)
    db.add_experiment_run(experiment_id, runs[0], "lr=3e-4", "baseline")
    db.add_experiment_run(experiment_id, runs[1], "lr=1e-3")
    got = db.get_experiment_runs(experiment_id)
    assert [(r["training_run_id"], r["variant_name"]) for r in got] == [(runs[0], "lr=3e-4"), (runs[1], "lr=1e-3")]
    assert (got[0]["status"], got[0]["final_loss"], got[0]["notes"]) == ("completed", 0.3, "baseline")
    assert got[1]["status"] == "started"


def test_statistics_count_what_was_written(db, name):
    before = db.get_statistics()
    run_id = db.create_training_run(db.create_model_version(db.create_model(name("m")), "1"))
    db.log_metrics(run_id, [{"metric_name": "loss", "metric_value": float(i)} for i in range(10)])
    db.update_training_run(run_id, "completed")
    after = db.get_statistics()
    for key, added in [("models", 1), ("model_versions", 1), ("training_runs", 1), ("metrics", 10), ("completed_runs", 1)]:
        assert after[key] - before[key] == added, key
    assert after["backend"] in {"sqlite", "postgres", "mysql", "redis", "mongodb"}


def test_context_manager_closes(tmp_path):
    with aimdb.create_ai_database(backend="sqlite", db_path=str(tmp_path / "a.db")) as db:
        db.create_model("kept")
    assert "closed" in repr(db)
    with pytest.raises(aimdb.AimdbError, match="closed"):
        db.list_models()
    db.close()  # twice is fine
    with aimdb.create_ai_database(backend="sqlite", db_path=str(tmp_path / "a.db")) as again:
        assert [m["name"] for m in again.list_models()] == ["kept"], "the data outlived the handle"


def test_url_config_file_and_dotenv(tmp_path, monkeypatch):
    with aimdb.create_ai_database(url=f"sqlite://{tmp_path / 'url.db'}") as db:
        db.create_model("by-url")
    config = tmp_path / "aimdb.yaml"
    config.write_text(f"backend: sqlite\ndb_path: {tmp_path / 'url.db'}\n")
    with aimdb.create_ai_database(config=str(config)) as db:
        assert db.get_model("by-url")["name"] == "by-url"
    # With no arguments: .env, then aimdb.yaml in the working directory, as in Rust.
    workdir = tmp_path / "project"
    workdir.mkdir()
    (workdir / ".env").write_text(f"AIMDB_DATABASE_URL=sqlite://{tmp_path / 'url.db'}\n")
    monkeypatch.chdir(workdir)
    # set then deleted: monkeypatch then restores "unset" after the test, whatever .env set.
    monkeypatch.setenv("AIMDB_DATABASE_URL", "unset")
    monkeypatch.delenv("AIMDB_DATABASE_URL")
    monkeypatch.delenv("AIMDB_CONFIG", raising=False)
    with aimdb.create_ai_database() as db:
        assert db.get_model("by-url")["name"] == "by-url"


@pytest.mark.parametrize("backend", ["postgresql", "mysql", "redis", "mongodb"])
def test_the_seeds_keywords_reach_each_server(backend, name):
    from urllib.parse import urlsplit

    from conftest import server_url

    url = urlsplit(server_url(backend))
    options = {"host": url.hostname, "port": url.port, "database": url.path.lstrip("/") or None}
    if url.username:
        options["user"] = url.username
    if url.password:
        options["password"] = url.password
    with aimdb.create_ai_database(backend=backend, echo=True, **options) as db:
        model_id = db.create_model(name("by-keywords"))
        assert db.get_model(model_id)["id"] == model_id
        assert db.get_statistics()["backend"] == {"postgresql": "postgres"}.get(backend, backend)
