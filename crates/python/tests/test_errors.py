"""Errors are exceptions of the engine's kinds, with the field named; never a half write."""

from __future__ import annotations

from datetime import datetime

import pytest

import aimdb


def test_every_kind_is_an_aimdb_error():
    for cls in (aimdb.NotFound, aimdb.AlreadyExists, aimdb.InvalidInput, aimdb.DimensionMismatch,
                aimdb.Unavailable, aimdb.ConfigError, aimdb.BackendError):
        assert issubclass(cls, aimdb.AimdbError)
    assert issubclass(aimdb.NotFound, LookupError)
    assert issubclass(aimdb.InvalidInput, ValueError)
    assert aimdb.Unavailable.retryable and not aimdb.NotFound.retryable


def test_not_found_and_already_exists(db, name):
    with pytest.raises(aimdb.NotFound) as err:
        db.get_model(987_654_321)
    assert (err.value.entity, err.value.key) == ("model", "987654321")
    with pytest.raises(aimdb.NotFound):
        db.get_model(name("no-such-model"))
    with pytest.raises(aimdb.NotFound) as err:
        db.create_model_version(987_654_321, "1")
    assert err.value.entity == "model", "a version of a missing model is refused, not orphaned"
    taken = name("taken")
    db.create_model(taken)
    with pytest.raises(aimdb.AlreadyExists) as err:
        db.create_model(taken)
    assert err.value.entity == "model"


def test_invalid_input_names_the_field_and_writes_nothing(db, name):
    with pytest.raises(aimdb.InvalidInput) as err:
        db.create_model("")
    assert err.value.field == "name"
    run_id = db.create_training_run(db.create_model_version(db.create_model(name("m")), "1"))
    with pytest.raises(aimdb.InvalidInput) as err:
        db.log_metrics(run_id, [
            {"metric_name": "loss", "metric_value": 1.0},
            {"metric_name": "loss", "metric_value": float("nan")},
        ])
    assert err.value.field == "metrics[1].metric_value"
    assert db.get_metrics(run_id) == [], "all or none"
    with pytest.raises(aimdb.InvalidInput) as err:
        db.log_metrics(run_id, [{"metric_name": "loss", "metric_value": 1.0, "stpe": 3}])
    assert err.value.field == "metrics[0].stpe", "a typo is refused, not dropped"
    with pytest.raises(aimdb.InvalidInput) as err:
        db.log_metrics(run_id, [{"metric_value": 1.0}])
    assert err.value.field == "metrics[0].metric_name"
    with pytest.raises(aimdb.InvalidInput) as err:
        db.log_metric(run_id, "loss", 1.0, timestamp=datetime(2026, 1, 1))
    assert err.value.field == "timestamp", "naive datetimes are ambiguous"
    with pytest.raises(aimdb.InvalidInput) as err:
        db.list_models(limit=0)
    assert err.value.field == "limit"


def test_wrong_python_types_are_type_errors(db, name):
    with pytest.raises(TypeError):
        db.create_model(42)
    with pytest.raises(TypeError):
        db.get_training_run("one")
    with pytest.raises(TypeError, match="config"):
        db.create_model_version(db.create_model(name("m")), "1", config={"not json": object()})
    run_id = db.create_training_run(None)
    with pytest.raises(TypeError, match=r"metrics\[0\]"):
        db.log_metrics(run_id, [("loss", 1.0)])
    with pytest.raises(TypeError, match="metric_value"):
        db.log_metrics(run_id, [{"metric_name": "loss", "metric_value": "high"}])
    with pytest.raises(TypeError):
        db.log_hyperparameters(run_id, {1: "a"})


def test_unknown_filter_is_named(faiss_db):
    with pytest.raises(aimdb.InvalidInput) as err:
        faiss_db.search_similar_models("x", frame_work="pytorch")
    assert err.value.field == "frame_work"


def test_configuration_errors(tmp_path):
    with pytest.raises(aimdb.ConfigError, match="db_pth"):
        aimdb.create_ai_database(backend="sqlite", db_pth=str(tmp_path / "a.db"))
    with pytest.raises(aimdb.ConfigError, match="cassandra"):
        aimdb.create_ai_database(backend="cassandra")
    with pytest.raises(aimdb.ConfigError, match="url"):
        aimdb.create_ai_database(backend="sqlite", url="sqlite://x.db")
    with pytest.raises(aimdb.DimensionMismatch) as err:
        aimdb.create_ai_database(backend="faiss", index_path=str(tmp_path / "idx"), dimension=768)
    assert (err.value.expected, err.value.actual) == (384, 768)


def test_unreachable_server_is_unavailable():
    with pytest.raises(aimdb.Unavailable) as err:
        aimdb.create_ai_database(url="postgres://aimdb@127.0.0.1:9/aimdb?connect_timeout=1")
    assert err.value.retryable
