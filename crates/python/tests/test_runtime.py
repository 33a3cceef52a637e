"""The GIL is released while the engine works; fork is handled."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

import aimdb


def test_two_threads_log_at_once(tmp_path):
    with aimdb.create_ai_database(backend="sqlite", db_path=str(tmp_path / "a.db")) as db:
        runs = [db.create_training_run(None, run_name=f"worker-{i}") for i in range(2)]
        errors = []

        def log(run_id):
            try:
                for step in range(20):
                    db.log_metrics(run_id, [{"metric_name": "loss", "metric_value": 1.0 / (step * 100 + i + 1),
                                             "step": step * 100 + i} for i in range(100)])
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=log, args=(run,)) for run in runs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for run in runs:
            steps = [m["step"] for m in db.get_metrics(run)]
            assert steps == list(range(2000)), "every point, in order, none lost"


def test_python_runs_while_the_engine_works(tmp_path):
    """A thread inside a long call does not hold the GIL: the main thread keeps running Python."""
    with aimdb.create_ai_database(backend="sqlite", db_path=str(tmp_path / "a.db")) as db:
        run_id = db.create_training_run(None)
        batch = [{"metric_name": "loss", "metric_value": float(i), "step": i} for i in range(100_000)]
        db.log_metrics(run_id, batch)
        inside = threading.Event()
        done = threading.Event()

        def read():
            inside.set()
            db.get_metrics(run_id)  # the store read dominates; the GIL is released for it
            done.set()

        worker = threading.Thread(target=read)
        ticks = 0
        worker.start()
        inside.wait()
        while not done.is_set():
            ticks += 1
        worker.join()
        # Holding the GIL for the read would leave this loop a handful of ticks at most.
        assert ticks > 1_000


def _child(path, queue):
    try:
        with aimdb.create_ai_database(backend="sqlite", db_path=path) as db:
            queue.put(("ok", [m["name"] for m in db.list_models()]))
    except Exception as e:  # pragma: no cover - reported to the parent
        queue.put(("error", repr(e)))


def _use_inherited(db, queue):
    try:
        db.list_models()
        queue.put(("ok", None))
    except aimdb.AimdbError as e:
        queue.put(("error", str(e)))


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork only")
def test_fork_gets_its_own_runtime(tmp_path):
    path = str(tmp_path / "a.db")
    ctx = multiprocessing.get_context("fork")
    with aimdb.create_ai_database(backend="sqlite", db_path=path) as db:
        db.create_model("from-parent")
        queue = ctx.Queue()
        child = ctx.Process(target=_child, args=(path, queue))
        child.start()
        assert queue.get(timeout=60) == ("ok", ["from-parent"]), "a child opens its own database"
        child.join(timeout=60)
        child = ctx.Process(target=_use_inherited, args=(db, queue))
        child.start()
        status, message = queue.get(timeout=60)
        child.join(timeout=60)
        assert status == "error" and "fork" in message, "a handle from the parent is refused, not corrupted"
        assert [m["name"] for m in db.list_models()] == ["from-parent"], "the parent's handle still works"
