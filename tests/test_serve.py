"""End to end: `recommender serve` (MLflow's scoring server, --env-manager local) on 127.0.0.1
answers a top-N request, refuses each bad request with a 4xx, and keeps serving."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, body: bytes | dict, content_type: str = "application/json"
          ) -> tuple[int, str]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=data,
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def server(registered_ranker, tmp_path_factory) -> Iterator[int]:
    """A real scoring server of models:/influencer-ranker@champion; always stopped after."""
    port = _free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": registered_ranker["tracking_uri"]}
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "recommender.cli", "serve", "--port", str(port)],
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=Path(registered_ranker["store"]))
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the group: recommender, mlflow and uvicorn
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


GOOD = {"dataframe_records": [{"brand_id": "b01"}], "params": {"top_n": 5}}

BAD = [
    ({"dataframe_records": [{"brand_id": "nope"}]}, ["brand_id", "'nope'"]),
    ({"dataframe_records": [{"brand_id": "b01", "platform": "myspace"}]},
     ["platform", "'myspace'"]),
    ({"dataframe_records": [{"brand_id": "b01"}], "params": {"top_n": 0}}, ["top_n = 0"]),
    ({"dataframe_records": [{"brand_id": "b01"}], "params": {"top_n": 1001}}, ["top_n = 1001"]),
    ({"dataframe_records": [{"brand_id": "b01"}], "params": {"top_n": 1.5}}, ["top_n", "1.5"]),
    ({"dataframe_records": [{"brand_id": "b01", "min_followers": 5000, "max_followers": 10}]},
     ["min_followers = 5000", "max_followers = 10"]),
    ({"dataframe_records": [{"brand_id": "b01", "min_followers": 1.5}]},
     ["min_followers", "1.5"]),
    ({"dataframe_records": [{"brand_id": "b01", "min_followers": "7"}]},
     ["min_followers", "'7'"]),
    ({"dataframe_records": [{"brand_id": "b01", "max_followers": True}]},
     ["max_followers", "True"]),
    (b"{not json", ["valid JSON"]),
    ({"records": [{"brand_id": "b01"}]}, ["dataframe_records"]),
    ({"dataframe_records": "b01"}, ["list of records"]),
]


@pytest.mark.slow
def test_served_ranker_answers_top_n_with_reasons(server):
    status, body = _post(server, GOOD)
    assert status == 200, body
    rows = json.loads(body)["predictions"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(len(r["reasons"]) == 3 and r["brand_id"] == "b01" for r in rows)
    assert all(0 < r["score"] < 1 for r in rows) and rows[0]["snapshot_as_of"]


@pytest.mark.slow
@pytest.mark.parametrize("payload, words", BAD)
def test_bad_request_gets_a_4xx_naming_the_problem_and_the_server_keeps_serving(
        server, payload, words):
    status, body = _post(server, payload)
    assert 400 <= status < 500, body
    assert "Traceback" not in body
    message = json.loads(body)["message"]
    for word in words:
        assert word in message
    status, body = _post(server, GOOD)
    assert status == 200 and len(json.loads(body)["predictions"]) == 5


@pytest.mark.slow
def test_wrong_content_type_is_refused_with_415(server):
    status, _ = _post(server, b"brand_id\nb01\n", content_type="text/plain")
    assert status == 415


def _refuse(token: str):
    raise ValueError(f"{token} is not valid JSON")


@pytest.mark.slow
def test_answer_is_strict_json(server):
    status, body = _post(server, {"dataframe_records": [{"brand_id": "b01"}],
                                  "params": {"top_n": 1000}})
    assert status == 200
    rows = json.loads(body, parse_constant=_refuse)["predictions"]  # no NaN / Infinity
    assert len(rows) > 100
