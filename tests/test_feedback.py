"""The feedback store on real SQLite files: durability, two writer processes, append-only,
bad input, and its use by the page (buttons, REST) and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner
from web_support import MODEL_TEXT, page_world, read_page

from recommender.cli import app
from recommender.errors import UserError
from recommender.feedback import FeedbackStore, apply_feedback, check_event
from recommender.web.app import create_app


def _event(brand="b01", influencer="i003", decision="reject", **extra):
    return check_event({"brand_id": brand, "influencer_id": influencer, "decision": decision,
                        **extra}, who="tester", source="cli")


def test_events_survive_a_restart_and_the_latest_decision_wins(tmp_path):
    url = f"sqlite:///{tmp_path}/fb.db"
    FeedbackStore(url).record([_event(rank=3, score=0.2, reason="tone", brief={"x": 1}),
                               _event(influencer="i004", decision="accept")])
    FeedbackStore(url).record(_event(decision="accept"))
    # read back by another process: nothing lives only in this one's memory
    code = ("from recommender.feedback import FeedbackStore; import sys; "
            f"e = FeedbackStore({url!r}).events(); sys.stdout.write(e.to_json(orient='records'))")
    rows = json.loads(subprocess.run([sys.executable, "-c", code], check=True,
                                     capture_output=True, text=True).stdout)
    assert [(r["influencer_id"], r["decision"]) for r in rows] == [
        ("i003", "reject"), ("i004", "accept"), ("i003", "accept")]
    assert rows[0]["rank"] == 3 and rows[0]["reason"] == "tone" and rows[0]["who"] == "tester"
    assert json.loads(rows[0]["brief"]) == {"x": 1}
    assert FeedbackStore(url).decisions("b01") == {"i003": "accept", "i004": "accept"}


def test_events_cannot_be_updated_or_deleted(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path}/fb.db")
    store.record(_event())
    for sql in ("UPDATE feedback_events SET decision = 'accept'", "DELETE FROM feedback_events"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as c:
            c.execute(sa.text(sql))
    assert store.events()["decision"].tolist() == ["reject"]


def test_two_writer_processes_on_one_file_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path}/fb.db"
    script = textwrap.dedent(f"""
        import sys
        from recommender.feedback import FeedbackStore, check_event
        store = FeedbackStore({url!r})
        for k in range(60):
            store.record(check_event({{"brand_id": "b01", "influencer_id": f"i{{k}}",
                                       "decision": "accept", "who": sys.argv[1]}}))
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, who]) for who in ("ann", "bob")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    events = FeedbackStore(url).events()
    assert len(events) == 120 and events["event_id"].is_unique
    assert events.groupby("who").size().to_dict() == {"ann": 60, "bob": 60}


def test_reading_a_store_that_does_not_exist_creates_nothing(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path}/none.db")
    assert store.events().empty and store.decisions("b01") == {}
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("raw, words", [
    ({"influencer_id": "i003", "decision": "accept"}, ["brand_id is required"]),
    ({"brand_id": "b01", "decision": "accept"}, ["influencer_id is required"]),
    ({"brand_id": "b01", "influencer_id": "i003"}, ["decision is required"]),
    ({"brand_id": "b01", "influencer_id": "i003", "decision": "maybe"}, ["decision = 'maybe'"]),
    ({"brand_id": "nope", "influencer_id": "i003", "decision": "accept"}, ["brand_id = 'nope'"]),
    ({"brand_id": "b01", "influencer_id": "i_x", "decision": "accept"}, ["influencer_id = 'i_x'"]),
    ({"brand_id": "b01", "influencer_id": "i003", "decision": "accept", "rank": 0}, ["rank = 0"]),
    ({"brand_id": "b01", "influencer_id": "i003", "decision": "accept", "rank": "2"},
     ["rank = '2'"]),
    ({"brand_id": 7, "influencer_id": "i003", "decision": "accept"}, ["brand_id = 7"]),
    ({"brand_id": "b01", "influencer_id": "i003", "decision": "accept", "colour": 1},
     ["unknown field", "colour"]),
])
def test_bad_event_names_the_field_and_value(raw, words):
    with pytest.raises(UserError) as info:
        check_event(raw, brand_ids={"b01"}, influencer_ids={"i003"})
    for word in words:
        assert word in str(info.value)


def test_rejected_are_added_to_exclusions_unless_asked():
    brief = {"brand_id": "b01", "exclude_influencer_ids": ["i9"]}
    decisions = {"i1": "reject", "i2": "accept"}
    assert apply_feedback(brief, decisions)["exclude_influencer_ids"] == ["i9", "i1"]
    assert apply_feedback(brief, decisions, include_rejected=True) == brief
    assert brief == {"brand_id": "b01", "exclude_influencer_ids": ["i9"]}  # not mutated


# ----------------------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def page(tmp_path_factory):
    world = page_world()
    url = f"sqlite:///{tmp_path_factory.mktemp('page_fb')}/fb.db"
    client = create_app(world.ranker, MODEL_TEXT, world.data_dir, feedback_url=url).test_client()
    return {"client": client, "url": url, "brand": str(world.brands["brand_id"].iloc[0])}


def test_page_buttons_reject_and_accept_then_the_shortlist_follows(page):
    c, brand = page["client"], page["brand"]
    query = f"/?brand={brand}&top_n=5"
    first = read_page(c.get(query).get_data(as_text=True)).rows
    ids = [r["id"] for r in first] if "id" in first[0] else None
    html = c.get(query).get_data(as_text=True)
    assert 'action="/feedback"' in html and 'value="reject"' in html
    shown = [i.split('"')[0] for i in html.split('data-influencer="')[1:]]
    assert ids is None or ids == shown
    top, second = shown[0], shown[1]
    for who, decision in ((top, "reject"), (second, "accept")):
        resp = c.post("/feedback", data={"brand_id": brand, "influencer_id": who,
                                         "decision": decision, "rank": "1", "score": "0.3",
                                         "next": query})
        assert resp.status_code == 303 and resp.headers["Location"].endswith(query)
    again = c.get(query).get_data(as_text=True)
    after = [i.split('"')[0] for i in again.split('data-influencer="')[1:]]
    assert top not in after and second in after
    assert 'class="feedback accepted"' in again
    events = FeedbackStore(page["url"]).events(brand_id=brand)
    assert events["source"].tolist() == ["page", "page"] and events["rank"].tolist() == [1, 1]


def test_rest_feedback_records_lists_and_refuses_bad_fields(page):
    c, brand = page["client"], page["brand"]
    ok = c.post("/api/feedback", json={"brand_id": brand, "influencer_id": "i010",
                                       "decision": "reject", "rank": 4, "who": "ann",
                                       "reason": "too pricey"})
    assert ok.status_code == 201 and len(ok.get_json()["event_ids"]) == 1
    listed = c.get(f"/api/feedback?brand_id={brand}&influencer_id=i010").get_json()
    assert listed[-1]["who"] == "ann" and listed[-1]["reason"] == "too pricey"
    for body, field in (({"influencer_id": "i010", "decision": "reject"}, "brand_id"),
                        ({"brand_id": brand, "decision": "reject"}, "influencer_id"),
                        ({"brand_id": brand, "influencer_id": "i_none", "decision": "reject"},
                         "influencer_id"),
                        ({"brand_id": "b_none", "influencer_id": "i010", "decision": "accept"},
                         "brand_id"),
                        ({"brand_id": brand, "influencer_id": "i010"}, "decision")):
        bad = c.post("/api/feedback", json=body)
        assert bad.status_code == 400 and bad.get_json()["field"] == field, bad.get_json()
        assert field in bad.get_json()["error"]
    assert c.post("/api/feedback", data="not json").status_code == 400
    foreign = c.post("/api/feedback", json={"brand_id": brand, "influencer_id": "i010",
                                            "decision": "accept"},
                     headers={"Origin": "http://elsewhere.example"})
    assert foreign.status_code == 403


# ----------------------------------------------------------------------------- command line
def test_feedback_command_records_lists_and_recommend_follows(registered_ranker, tmp_path,
                                                            monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered_ranker["tracking_uri"])
    monkeypatch.setenv("RECOMMENDER_FEEDBACK_URL", f"sqlite:///{tmp_path}/fb.db")
    runner = CliRunner()
    base = runner.invoke(app, ["recommend", "--brand", "b01", "--format", "json"])
    top = [r["influencer_id"] for r in json.loads(base.stdout)]
    rec = runner.invoke(app, ["feedback", "--brand", "b01", "--influencer", top[0], "--reject",
                              "--reason", "off-brand", "--rank", "1", "--who", "ann"])
    assert rec.exit_code == 0, rec.output
    assert runner.invoke(app, ["feedback", "--brand", "b01", "--influencer", top[1],
                               "--accept"]).exit_code == 0
    listed = json.loads(runner.invoke(app, ["feedback", "--list", "--brand", "b01",
                                            "--format", "json"]).stdout)
    assert [(e["influencer_id"], e["decision"], e["who"]) for e in listed][0] == (
        top[0], "reject", "ann")
    rows = json.loads(runner.invoke(app, ["recommend", "--brand", "b01", "--format",
                                          "json"]).stdout)
    ids = [r["influencer_id"] for r in rows]
    assert top[0] not in ids and rows[ids.index(top[1])]["feedback"] == "accepted"
    kept = json.loads(runner.invoke(app, ["recommend", "--brand", "b01", "--include-rejected",
                                          "--format", "json"]).stdout)
    assert kept[0]["influencer_id"] == top[0] and kept[0]["feedback"] == "rejected"
    table = runner.invoke(app, ["feedback", "--list"], terminal_width=200)
    assert "off-brand" in table.output


@pytest.mark.parametrize("args, words", [
    (["--influencer", "i003", "--accept"], ["--brand is required"]),
    (["--brand", "b01", "--influencer", "i003"], ["--accept or --reject"]),
    (["--brand", "b01", "--influencer", "nobody", "--reject"], ["influencer_id = 'nobody'"]),
    (["--brand", "bx", "--influencer", "i003", "--reject"], ["brand_id = 'bx'"]),
])
def test_feedback_command_refuses_bad_input_naming_it(registered_ranker, tmp_path,
                                                      monkeypatch, args, words):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered_ranker["tracking_uri"])
    result = CliRunner().invoke(app, ["feedback", "--feedback-db",
                                      f"sqlite:///{tmp_path}/fb.db", *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    for word in words:
        assert word in result.output
    assert pd.DataFrame(FeedbackStore(f"sqlite:///{tmp_path}/fb.db").events()).empty


def test_page_ranks_lookalikes_and_names_a_bad_seed_beside_its_field(page):
    c, brand = page["client"], page["brand"]
    resp = c.get(f"/?brand={brand}&like=i003,+i004&top_n=4")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and html.count("like the 2 seeds:") == 4
    bad = c.get(f"/?brand={brand}&like=i_nobody")
    assert bad.status_code == 422
    assert "i_nobody" in read_page(bad.get_data(as_text=True)).by_id["like-error"]


def test_generate_with_planner_briefs_writes_feedback_and_truth(tmp_path):
    result = CliRunner().invoke(app, ["generate", "--out", str(tmp_path / "w"), "--influencers",
                                      "300", "--brands", "10", "--months", "6",
                                      "--planner-briefs", "20"])
    assert result.exit_code == 0, result.output
    from recommender.preference import load_events

    events = load_events(tmp_path / "w" / "feedback.parquet")
    assert len(events) == 200 and set(events["source"]) == {"simulated"}
    assert (tmp_path / "w" / "planner_truth.parquet").exists()
