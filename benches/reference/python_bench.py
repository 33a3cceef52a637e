"""The Python package's bench (`cargo xtask bench --python`): the same three jobs through
aimdb's Python API (in process, SQLite, hash embedder) and through the MLflow Python client
against its own server. Prints `key seconds` lines; the xtask makes the table.

usage: python_bench.py aimdb DIR | python_bench.py mlflow TRACKING_URI
"""

from __future__ import annotations

import statistics
import sys
import time

POINTS = 10_000
HISTORY = 100_000
CREATES = 200


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def aimdb_jobs(directory: str) -> dict[str, float]:
    import aimdb

    db = aimdb.create_ai_database(backend="sqlite", db_path=f"{directory}/bench.db", embedding={"model": "hash"})
    out: dict[str, float] = {}
    run = db.create_training_run(None, run_name="bench")
    batches = [[{"metric_name": "loss", "metric_value": 1.0 / (i + 1), "step": r * POINTS + i} for i in range(POINTS)]
               for r in range(5)]
    out["log_metrics_10k_s"] = statistics.median(timed(lambda b=b: db.log_metrics(run, b)) for b in batches)
    out["create_model_s"] = statistics.median(timed(lambda i=i: db.create_model(f"model-{i}", "a model")) for i in range(CREATES))
    history = db.create_training_run(None, run_name="history")
    for start in range(0, HISTORY, POINTS):
        db.log_metrics(history, [{"metric_name": "loss", "metric_value": float(i), "step": i}
                                 for i in range(start, start + POINTS)])
    out["get_metrics_100k_s"] = statistics.median(timed(lambda: db.get_metrics(history, "loss")) for _ in range(5))
    assert len(db.get_metrics(history, "loss")) == HISTORY
    db.close()
    return out


def mlflow_jobs(uri: str) -> dict[str, float]:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.create_experiment(f"python-bench-{time.time_ns()}")
    out: dict[str, float] = {}
    run = client.create_run(experiment).info.run_id
    now = int(time.time() * 1000)

    def log(run_id: str, start: int, count: int) -> None:
        # MLflow takes at most 1000 metrics per log_batch.
        for offset in range(start, start + count, 1000):
            client.log_batch(run_id, metrics=[Metric("loss", float(i), now, i) for i in range(offset, offset + 1000)])

    out["log_metrics_10k_s"] = statistics.median(timed(lambda r=r: log(run, r * POINTS, POINTS)) for r in range(3))
    out["create_model_s"] = statistics.median(
        timed(lambda i=i: client.create_registered_model(f"model-{experiment}-{i}", description="a model"))
        for i in range(CREATES // 4))
    history = client.create_run(experiment).info.run_id
    log(history, 0, HISTORY)
    out["get_metrics_100k_s"] = statistics.median(timed(lambda: client.get_metric_history(history, "loss")) for _ in range(3))
    assert len(client.get_metric_history(history, "loss")) == HISTORY
    return out


def main() -> None:
    kind, where = sys.argv[1], sys.argv[2]
    figures = aimdb_jobs(where) if kind == "aimdb" else mlflow_jobs(where)
    for key, value in figures.items():
        print(f"{key} {value:.6f}")


if __name__ == "__main__":
    main()
