"""Shared by the serving tests: one real scoring server per test session, and a POST helper."""

from __future__ import annotations

import atexit
import functools
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path


@functools.cache
def shared_server(tracking_uri: str, store: str):
    """`recommender serve` of models:/influencer-ranker@champion in the store at
    `tracking_uri`, started once per session (about 10 s) and stopped at exit."""
    from recommender.loadtest import start_server

    # both URIs: an earlier in-process set_registry_uri leaves MLFLOW_REGISTRY_URI in os.environ
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "MLFLOW_REGISTRY_URI": tracking_uri}
    env.pop("MLFLOW_EXPERIMENT_ID", None)
    log = Path(tempfile.mkdtemp(prefix="serve_")) / "serve.log"
    server = start_server("models:/influencer-ranker@champion", log, env=env, cwd=Path(store))
    atexit.register(server.stop)
    return server


def post(port: int, body: bytes | dict, content_type: str = "application/json"
         ) -> tuple[int, str]:
    """POST to /invocations on 127.0.0.1:`port`: (status, body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=data,
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
