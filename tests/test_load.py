"""Load and security defaults of the real scoring server (`recommender serve` on 127.0.0.1).

A bounded burst from several concurrent clients, good and bad requests mixed: no good request
fails, every bad one gets a 4xx, the server is alive afterwards. Security defaults: loopback
unless told otherwise, capped request sizes, path-like values never opened, no pickled
booster in the logged model.
"""

from __future__ import annotations

import json
import pickletools
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import typer
from conftest import mlflow_store
from serve_support import post, shared_server

from recommender import config
from recommender.cli import app
from recommender.loadtest import LoadResult, mixed_requests, ping, run_load

pytestmark = pytest.mark.slow

CLIENTS = 4
REQUESTS = 300
MAX_SECONDS = 120.0


@pytest.fixture(scope="module")
def server(registered_ranker):
    return shared_server(registered_ranker["tracking_uri"], str(registered_ranker["store"]))


@pytest.fixture(scope="module")
def burst(server, ranker_parts) -> LoadResult:
    brands = ranker_parts["ds"].brands["brand_id"].tolist()
    requests = mixed_requests(brands, REQUESTS, bad_share=0.3, seed=7)
    return run_load(server.url, requests, clients=CLIENTS, max_seconds=MAX_SECONDS)


def test_a_bounded_burst_is_sent_in_full_and_stops_by_itself(burst: LoadResult):
    assert not burst.stopped_early and len(burst.outcomes) == REQUESTS
    assert burst.wall_seconds < MAX_SECONDS
    assert {o.request.good for o in burst.outcomes} == {True, False}


def test_no_good_request_fails_under_concurrent_load(burst: LoadResult):
    failed = burst.failed_good
    assert failed == [], [(o.status, o.body[:200]) for o in failed[:3]]
    first = next(o for o in burst.outcomes if o.request.good)
    top_n = json.loads(first.request.body)["params"]["top_n"]
    assert 0 < len(json.loads(first.body)["predictions"]) <= top_n


def test_every_bad_request_gets_a_4xx_without_a_trace(burst: LoadResult):
    wrong = burst.bad_not_4xx
    assert wrong == [], [(o.request.label, o.status, o.body[:200]) for o in wrong[:3]]
    labels = {o.request.label for o in burst.outcomes if not o.request.good}
    assert {"too many briefs", "top_n above max", "path as brand", "broken JSON"} <= labels
    assert all("Traceback" not in o.body for o in burst.outcomes)


def test_the_server_is_alive_after_the_burst(burst: LoadResult, server):
    assert server.process.poll() is None and ping(server.url)
    status, body = post(server.port, {"dataframe_records": [{"brand_id": "b01"}],
                                      "params": {"top_n": 3}})
    assert status == 200 and len(json.loads(body)["predictions"]) == 3


# ----------------------------------------------------------------------------- security


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on `port` (Linux /proc/net/tcp*)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port and len(addr) == width:
                found.add(addr)
    return found


def test_the_server_listens_on_loopback_only_by_default(server):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp")
    assert _listening_addresses(server.port) == {"0100007F"}  # 127.0.0.1, nothing else


@pytest.mark.parametrize("command", ["serve", "ui"])
def test_servers_default_to_loopback(command: str):
    params = {p.name: p for p in typer.main.get_command(app).commands[command].params}
    assert params["host"].default == config.DEFAULT_HOST == "127.0.0.1"


@pytest.mark.parametrize(("payload", "words"), [
    ({"dataframe_records": [{"brand_id": "b01"}], "params": {"top_n": config.MAX_TOP_N + 1}},
     [f"top_n = {config.MAX_TOP_N + 1}"]),
    ({"dataframe_records": [{"brand_id": "b01"}] * (config.MAX_BRIEFS_PER_REQUEST + 1)},
     [str(config.MAX_BRIEFS_PER_REQUEST)]),
])
def test_request_sizes_are_capped_with_a_clear_4xx(server, payload, words):
    status, body = post(server.port, payload)
    assert 400 <= status < 500
    message = json.loads(body)["message"]
    assert all(w in message for w in words), message


@pytest.mark.parametrize("value", ["/etc/passwd", "../../../../etc/hostname", "file:///etc/passwd",
                                   "models:/influencer-ranker@champion"])
def test_path_like_values_are_data_never_paths(server, value):
    status, body = post(server.port, {"dataframe_records": [{"brand_id": value}]})
    assert 400 <= status < 500
    message = json.loads(body)["message"]
    assert "brand_id" in message and "root:" not in message


def _pickles(root: Path) -> list[str]:
    """Files under `root` that hold a pickle stream (whatever their name)."""
    found = []
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.suffix in (".pkl", ".pickle", ".joblib") or (
                len(data) > 2 and data[0] == 0x80 and data[1] <= 5 and _parses(data)):
            found.append(str(p.relative_to(root)))
    return found


def _parses(data: bytes) -> bool:
    try:
        for _ in pickletools.genops(data):
            pass
    except Exception:
        return False
    return True


def test_the_logged_model_holds_the_booster_as_text_and_no_pickle(registered_ranker, tmp_path):
    with mlflow_store(registered_ranker["tracking_uri"]):
        local = Path(mlflow.artifacts.download_artifacts(
            "models:/influencer-ranker@champion", dst_path=str(tmp_path)))
    booster = next(local.rglob("booster.txt"))
    assert booster.read_text().startswith("tree")
    assert _pickles(local) == []
    mlmodel = (local / "MLmodel").read_text()  # the ranker is code, not a pickled object
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
    assert "python_model.pkl" not in mlmodel
    assert pd.read_parquet(next(local.rglob("influencers.parquet"))).shape[0] > 0
