"""End to end: `recommender serve` (MLflow's scoring server, --env-manager local) on 127.0.0.1
answers a top-N request, refuses each bad request with a 4xx, and keeps serving."""

from __future__ import annotations

import json

import pytest
from serve_support import post, shared_server


@pytest.fixture(scope="module")
def server(registered_ranker) -> int:
    """The session's real scoring server of models:/influencer-ranker@champion (shared with
    test_load.py, stopped at exit): its port."""
    return shared_server(registered_ranker["tracking_uri"], str(registered_ranker["store"])).port


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
    ({"dataframe_records": [{"brand_id": "b01"}], "params": {"topn": 3}},
     ["unknown parameter(s) topn", "top_n"]),
    ({"dataframe_records": [{"brand_id": "b01"}], "params": {"as_of": "2099-01-01"}},
     ["as_of", "'2099-01-01'", "end of the model's data"]),
    ({"dataframe_records": [{"like": ["i_nobody"]}]}, ["like = 'i_nobody'"]),
    (b"{not json", ["valid JSON"]),
    ({"records": [{"brand_id": "b01"}]}, ["dataframe_records"]),
    ({"dataframe_records": "b01"}, ["list of records"]),
]


@pytest.mark.slow
def test_served_ranker_answers_top_n_with_reasons(server):
    status, body = post(server, GOOD)
    assert status == 200, body
    rows = json.loads(body)["predictions"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(len(r["reasons"]) == 3 and r["brand_id"] == "b01" for r in rows)
    assert all(0 < r["score"] < 1 for r in rows) and rows[0]["snapshot_as_of"]


@pytest.mark.slow
def test_served_ranker_answers_lookalike_briefs(server):
    status, body = post(server, {"dataframe_records": [{"like": ["i003", "i004"]},
                                                       {"brand_id": "b01", "like": ["i003"]}],
                                 "params": {"top_n": 3}})
    assert status == 200, body
    rows = json.loads(body)["predictions"]
    alone, branded = rows[:3], rows[3:]
    assert all(r["score"] is None and "no brand given" in r["ranked_by"] for r in alone)
    assert all(0 < r["score"] < 1 and r["reasons"][0].startswith("like i003") for r in branded)
    assert {r["influencer_id"] for r in rows}.isdisjoint({"i003", "i004"})


# every JSON form MLflow's server accepts; "inputs" carries scalars as 0-d arrays
MLFLOW_FORMS = [
    {"dataframe_split": {"columns": ["brand_id"], "data": [["b01"]]}},
    {"inputs": {"brand_id": "b01"}},
    {"inputs": [{"brand_id": "b01"}]},
    {"inputs": {"brand_id": ["b01"]}},
    {"instances": [{"brand_id": "b01"}]},
]


@pytest.mark.slow
@pytest.mark.parametrize("body", MLFLOW_FORMS)
def test_served_ranker_accepts_every_mlflow_input_format(server, body):
    # regression: "inputs" gave a 500 (one brief as a dict) or a 400 (records)
    status, answer = post(server, {**body, "params": {"top_n": 3}})
    assert status == 200, answer
    rows = json.loads(answer)["predictions"]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert {r["brand_id"] for r in rows} == {"b01"}


@pytest.mark.slow
def test_bad_value_sent_as_inputs_is_named_like_any_other(server):
    status, body = post(server, {"inputs": [{"brand_id": "b01", "min_followers": 1.5}]})
    assert 400 <= status < 500, body
    message = json.loads(body)["message"]
    assert "min_followers" in message and "1.5" in message


@pytest.mark.slow
@pytest.mark.parametrize("payload, words", BAD)
def test_bad_request_gets_a_4xx_naming_the_problem_and_the_server_keeps_serving(
        server, payload, words):
    status, body = post(server, payload)
    assert 400 <= status < 500, body
    assert "Traceback" not in body
    message = json.loads(body)["message"]
    for word in words:
        assert word in message
    status, body = post(server, GOOD)
    assert status == 200 and len(json.loads(body)["predictions"]) == 5


@pytest.mark.slow
def test_wrong_content_type_is_refused_with_415(server):
    status, _ = post(server, b"brand_id\nb01\n", content_type="text/plain")
    assert status == 415


def _refuse(token: str):
    raise ValueError(f"{token} is not valid JSON")


@pytest.mark.slow
def test_answer_is_strict_json(server):
    status, body = post(server, {"dataframe_records": [{"brand_id": "b01"}],
                                  "params": {"top_n": 1000}})
    assert status == 200
    rows = json.loads(body, parse_constant=_refuse)["predictions"]  # no NaN / Infinity
    assert len(rows) > 100
