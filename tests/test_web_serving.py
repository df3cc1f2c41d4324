"""The planner page on its production server (waitress): concurrent requests answered as
serial ones are, and a moved champion alias served without a restart (real registry)."""

from __future__ import annotations

import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import mlflow_store
from web_support import MODEL_TEXT, page_world, read_page

from recommender.web.app import app_for_model, create_app, listen, make_page_server


@pytest.fixture(scope="module")
def world():
    return page_world()


def _serve(app):
    server = make_page_server(app, listen("127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _fetch(port: int, query: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/?{query}", timeout=60) as resp:
        return resp.status, resp.read().decode()


def _ids(html: str) -> list[str]:
    return [r["id"] for r in read_page(html).rows]


def test_concurrent_page_requests_get_what_serial_ones_get(world):
    app = create_app(world.ranker, MODEL_TEXT, world.data_dir)
    brands = [str(b) for b in world.brands["brand_id"].iloc[:6]]
    queries = [f"brand={b}&top_n={n}" for b in brands for n in (3, 7)]
    serial = {q: _ids(app.test_client().get("/?" + q).get_data(as_text=True)) for q in queries}
    assert all(serial.values())
    server = _serve(app)
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            together = list(pool.map(lambda q: _fetch(server.port, q), queries * 2))
    finally:
        server.shutdown()
    for q, (status, html) in zip(queries * 2, together, strict=True):
        assert status == 200 and _ids(html) == serial[q], q


def test_page_serves_the_new_version_once_the_alias_moves(ranker_parts, tmp_path):
    import mlflow

    from recommender.pyfunc import log_ranker
    from recommender.registry import Decision, register_model

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with mlflow_store(uri):
        client = mlflow.MlflowClient(uri, uri)
        exp = mlflow.create_experiment("page", artifact_location=(tmp_path / "art").as_uri())

        def register() -> str:
            with mlflow.start_run(experiment_id=exp):
                info = log_ranker(ranker_parts["model"], ranker_parts["ds"])
            return register_model(info.model_uri, "influencer-ranker",
                                  Decision("champion", "test"), client).version

        first = register()
        app = app_for_model("models:/influencer-ranker@champion", reload_seconds=0.0)
        server = _serve(app)
        try:
            page = read_page(_fetch(server.port, "")[1])
            assert page.by_id["model-version"] == f"influencer-ranker version {first} (champion)"
            second = register()  # takes the champion alias
            assert second != first
            deadline, seen = time.monotonic() + 120, ""
            while time.monotonic() < deadline:
                seen = read_page(_fetch(server.port, "")[1]).by_id["model-version"]
                if seen.startswith(f"influencer-ranker version {second} "):
                    break
                time.sleep(0.5)
            assert seen == f"influencer-ranker version {second} (champion)"
            status, html = _fetch(server.port, f"brand={ranker_parts['ds'].brands['brand_id'][0]}")
            assert status == 200 and _ids(html)  # and it ranks with it
        finally:
            server.shutdown()
