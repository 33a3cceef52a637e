"""One MLflow client workload against a tracking server: `cargo xtask bench --mlflow` runs it
against a real `mlflow server` (SQLite store) and against `aimdb serve` (SQLite store) on the
same machine and prints the ratios.

Usage: mlflow_bench.py URI LABEL [--quick]. Prints `key value` lines: medians in seconds, counts.
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid

import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param

URI, LABEL = sys.argv[1], sys.argv[2]
QUICK = "--quick" in sys.argv
client = MlflowClient(tracking_uri=URI)
session = requests.Session()


def timed(fn, n):
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def progress(what):
    print(f"{LABEL}: {what}", file=sys.stderr, flush=True)


experiment = client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
result = {}

progress("create_run")
runs = []
result["create_run_s"] = timed(lambda i: runs.append(client.create_run(experiment).info.run_id), 50 if QUICK else 200)

progress("log_metric")
one = runs[0]
result["log_metric_s"] = timed(lambda i: client.log_metric(one, "loss", 1.0 / (i + 1), step=i), 50 if QUICK else 300)

progress("log_batch of 1000 metrics")
batch_run = runs[1]
now = int(time.time() * 1000)


def batch(i, through=client):
    metrics = [Metric("acc", random.random(), now + i * 1000 + j, i * 1000 + j) for j in range(1000)]
    through.log_batch(batch_run, metrics=metrics)


result["log_batch_1000_s"] = timed(batch, 10 if QUICK else 30)
result["log_batch_metrics_per_s"] = 1000 / result["log_batch_1000_s"]

# The same batch as the client sends it, serialized beforehand: what the server itself costs
# (the client's own protobuf-to-JSON step takes tens of milliseconds per 1000 metrics).
calls = 10 if QUICK else 30
bodies = [
    json.dumps({
        "run_id": batch_run,
        "metrics": [
            {"key": "raw", "value": random.random(), "timestamp": now + j, "step": i * 1000 + j} for j in range(1000)
        ],
    })
    for i in range(calls)
]
headers = {"Content-Type": "application/json"}


def raw_batch(i):
    session.post(f"{URI}/api/2.0/mlflow/runs/log-batch", data=bodies[i], headers=headers, timeout=60).raise_for_status()


result["log_batch_raw_s"] = timed(raw_batch, calls)

points = 10_000 if QUICK else 100_000
progress(f"history of {points} points")
history_run = runs[2]
for i in range(points // 1000):
    client.log_batch(history_run, metrics=[Metric("loss", 1.0 / (k + 1), now + k, k) for k in range(i * 1000, i * 1000 + 1000)])


def raw_history(_):
    answer = session.get(
        f"{URI}/api/2.0/mlflow/metrics/get-history", params={"run_id": history_run, "metric_key": "loss"}, timeout=600
    )
    answer.raise_for_status()
    got = len(answer.json()["metrics"])
    assert got == points, got


def client_history(_):
    got = len(client.get_metric_history(history_run, "loss"))
    assert got == points, got


result["history_points"] = points
result["history_raw_s"] = timed(raw_history, 3)
result["history_client_s"] = timed(client_history, 3)

progress("search_runs over 200 runs")
sweep = client.create_experiment(f"sweep-{uuid.uuid4().hex[:8]}")
rng = random.Random(7)
for i in range(200):
    run = client.create_run(sweep).info.run_id
    client.log_batch(
        run,
        metrics=[Metric("loss", rng.random(), now, 0)],
        params=[Param("lr", rng.choice(["0.01", "0.1"]))],
    )
query = "metrics.loss < 0.5 and params.lr = '0.01'"
expected = len(client.search_runs([sweep], query, max_results=1000))
assert 10 < expected < 190, expected
result["search_runs_matches"] = expected
result["search_runs_s"] = timed(lambda i: client.search_runs([sweep], query, max_results=1000), 20)

# The client's own share: the same calls against a server that answers from memory at once
# (the answers aimdb gave), so no server, however fast, can be faster through this client.
REPLAY = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
answers = {"/api/2.0/mlflow/runs/search": open(sys.argv[1], "rb").read()}
class Replay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: with Nagle on, the body waits for a delayed ACK.
    disable_nagle_algorithm = True
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = answers.get(self.path, b"{}")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
print(server.server_address[1], flush=True)
server.serve_forever()
"""
if LABEL == "aimdb":
    progress("the client alone (a server answering from memory)")
    search_body = {"experiment_ids": [sweep], "filter": query, "max_results": 1000, "order_by": [], "run_view_type": "ACTIVE_ONLY"}
    answer = session.post(f"{URI}/api/2.0/mlflow/runs/search", json=search_body, timeout=60)
    answer.raise_for_status()
    saved = f"/tmp/mlflow-bench-search-{uuid.uuid4().hex}.json"
    with open(saved, "wb") as f:
        f.write(answer.content)
    replay = subprocess.Popen([sys.executable, "-c", REPLAY, saved], stdout=subprocess.PIPE, text=True)
    try:
        alone = MlflowClient(tracking_uri=f"http://127.0.0.1:{replay.stdout.readline().strip()}")
        result["log_batch_client_only_s"] = timed(lambda i: batch(i, alone), 10 if QUICK else 30)
        assert len(alone.search_runs([sweep], query, max_results=1000)) == expected
        result["search_runs_client_only_s"] = timed(lambda i: alone.search_runs([sweep], query, max_results=1000), 20)
    finally:
        replay.kill()
        os.remove(saved)

for key, value in result.items():
    print(key, value)
