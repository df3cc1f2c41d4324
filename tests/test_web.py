"""The planner page through Flask's test client, over a real ranker on a tiny world."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pandas as pd
import pytest
from web_support import MODEL_TEXT, page_world, read_page

from recommender.errors import UserError
from recommender.web import svg
from recommender.web.app import create_app, field_of, listen, make_page_server
from recommender.web.form import parse_number
from recommender.web.snapshot import page_data, weekly_engagement
from recommender.web.view import Shortlist, shortlist_csv


@pytest.fixture(scope="module")
def world():
    return page_world()


@pytest.fixture(scope="module")
def client(world):
    return create_app(world.ranker, MODEL_TEXT, world.data_dir).test_client()


@pytest.fixture(scope="module")
def brand(world) -> str:
    return str(world.brands["brand_id"].iloc[0])


def get(client, query: str):
    resp = client.get("/?" + query)
    return resp, read_page(resp.get_data(as_text=True))


def errors(page) -> dict[str, str]:
    return {k: v for k, v in page.by_id.items() if k.endswith("-error")}


# ----------------------------------------------------------------------------- first visit
def test_first_visit_shows_an_empty_brief_with_micro_follower_defaults(client, world):
    resp, page = get(client, "")
    assert resp.status_code == 200
    assert page.attrs_by_id["f-min_followers"]["value"] == "1,000"
    assert page.attrs_by_id["f-max_followers"]["value"] == "100,000"
    assert page.attrs_by_id["f-top_n"]["value"] == "10"
    assert page.rows == [] and "shortlist-title" not in page.by_id


def test_snapshot_as_of_and_model_version_are_shown(client, world):
    _, page = get(client, "")
    assert page.by_id["as-of"] == f"{world.ranker.as_of:%Y-%m-%d %H:%M} UTC"
    assert page.by_id["model-version"] == MODEL_TEXT


def test_page_for_a_registry_uri_names_the_version_it_loaded(registered_ranker):
    from conftest import mlflow_store

    from recommender.web.app import app_for_model

    with mlflow_store(registered_ranker["tracking_uri"]):
        app = app_for_model(registered_ranker["model_uri"])  # models:/...@champion
    page = read_page(app.test_client().get("/").get_data(as_text=True))
    assert page.by_id["model-version"] == (
        f"influencer-ranker version {registered_ranker['version']} (champion)")


def test_static_assets_ship_with_the_package_and_nothing_is_fetched_elsewhere(client):
    html = client.get("/").get_data(as_text=True)
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html


# ----------------------------------------------------------------------------- shortlist
def test_shortlist_is_the_rankers_order_scores_and_reasons(client, world, brand):
    resp, page = get(client, f"mode=existing&brand={brand}&top_n=5")
    assert resp.status_code == 200
    expected = world.ranker.recommend({"brand_id": brand}, top_n=5)
    assert [r["id"] for r in page.rows] == expected["influencer_id"].tolist()
    for row, (_, exp) in zip(page.rows, expected.iterrows(), strict=True):
        rank, who, prob, price, why, eng, _aud = row["cells"]
        assert rank == str(exp["rank"])
        assert prob == f"{exp['score']:.1%}"
        assert why.split("\n") == list(exp["reasons"]) and len(exp["reasons"]) == 3
        assert f"{exp['followers']:,} followers" in who
        assert eng.startswith(f"{exp['engagement_rate_90d']:.2%}")
        assert price == f"${exp['price_per_post']:,.0f}"
        assert row["svg"][0] == "pbar" and row["svg"].count("shares") == 2


def test_brand_is_found_by_its_name_as_well_as_its_id(client, world):
    b = world.brands.iloc[1]
    _, by_id = get(client, f"brand={b['brand_id']}&top_n=3")
    _, by_name = get(client, f"brand={str(b['name']).upper()}&top_n=3")
    _, by_label = get(client, f"brand={b['name']} ({b['brand_id']})&top_n=3")
    assert [r["id"] for r in by_id.rows] == [r["id"] for r in by_name.rows]
    assert [r["id"] for r in by_id.rows] == [r["id"] for r in by_label.rows]
    assert by_id.rows


def test_filters_reach_the_ranker(client, world, brand):
    _, page = get(client, f"brand={brand}&platform=tiktok&min_followers=2k&max_followers=50,000"
                          "&top_n=20")
    inf = world.ranker.snapshot.ds.influencers.set_index("influencer_id")
    shown = inf.loc[[r["id"] for r in page.rows]]
    assert len(shown) > 0
    assert (shown["platform"] == "tiktok").all()
    assert shown["followers"].between(2_000, 50_000).all()


def test_sparkline_is_drawn_from_weekly_posts_before_the_snapshot(client, world, brand):
    _, page = get(client, f"brand={brand}&top_n=5")
    data = page_data(world.ranker, world.data_dir)
    for row in page.rows:
        has_weeks = row["id"] in data.weekly.index and data.weekly.loc[row["id"]].notna().sum() >= 2
        assert ("spark" in row["svg"]) == has_weeks


def test_without_a_data_folder_the_page_works_and_says_why_there_are_no_sparklines(world, brand):
    app = create_app(world.ranker, MODEL_TEXT, world.data_dir / "absent")
    resp = app.test_client().get(f"/?brand={brand}&top_n=3")
    page = read_page(resp.get_data(as_text=True))
    assert resp.status_code == 200 and len(page.rows) == 3
    assert all("spark" not in r["svg"] for r in page.rows)
    assert "engagement history not shown" in resp.get_data(as_text=True).lower()


def test_new_brand_described_inline_ranks_like_the_ranker_and_draws_its_target(client, world):
    q = ("mode=new&category=beauty&market=us&age_18_24=60&age_25_34=40&gender_female=80"
         "&gender_male=20&top_n=4")
    resp, page = get(client, q)
    assert resp.status_code == 200
    expected = world.ranker.recommend(pd.DataFrame([{
        "category": "beauty", "brand_country": "us",
        "target_age": {"18-24": 0.6, "25-34": 0.4},
        "target_gender": {"female": 0.8, "male": 0.2}}]), top_n=4)
    assert [r["id"] for r in page.rows] == expected["influencer_id"].tolist()
    assert "a new beauty brand in US" in page.by_id["shortlist-title"]
    assert "target 60%" in page.rows[0]["cells"][6]  # the 18-24 tick of the age chart


# ----------------------------------------------------------------------------- budget
def test_budget_shows_the_chosen_set_its_cost_and_expected_conversions(client, world, brand):
    resp, page = get(client, f"brand={brand}&top_n=6&budget=$900")
    assert resp.status_code == 200
    expected = world.ranker.recommend({"brand_id": brand}, top_n=6, budget=900.0)
    assert [r["id"] for r in page.rows] == expected["influencer_id"].tolist()
    assert expected["price_per_post"].sum() <= 900
    assert page.by_id["total-cost"] == f"${expected['price_per_post'].sum():,.0f}"
    assert page.by_id["expected-conversions"] == f"{expected['score'].sum():.2f}"
    assert page.by_id["chosen-count"] == f"{len(expected)} influencers"


def test_a_budget_below_every_price_says_nothing_fits(client, brand):
    resp, page = get(client, f"brand={brand}&top_n=5&budget=0.5")
    assert resp.status_code == 200
    assert page.rows == [] and "no-match" in page.by_id


# ----------------------------------------------------------------------------- CSV
def test_csv_export_is_the_same_shortlist_as_the_page(client, world, brand):
    query = f"brand={brand}&top_n=5&budget=900"
    _, page = get(client, query)
    resp = client.get("/export.csv?" + query)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["influencer_id"] for r in rows] == [r["id"] for r in page.rows]
    expected = world.ranker.recommend({"brand_id": brand}, top_n=5, budget=900.0)
    np.testing.assert_allclose([float(r["conversion_probability"]) for r in rows],
                               expected["score"], atol=5e-5)
    assert [r["reason_1"] for r in rows] == [x[0] for x in expected["reasons"]]
    assert {r["data_as_of"] for r in rows} == {page.by_id["as-of"]}
    assert {r["model"] for r in rows} == {MODEL_TEXT}


def test_export_link_on_the_page_carries_the_brief(client, brand):
    _, page = get(client, f"brand={brand}&top_n=3&platform=instagram")
    href = page.attrs_by_id["export"]["href"]
    assert href.startswith("/export.csv?") and "platform=instagram" in href
    rows = list(csv.DictReader(io.StringIO(client.get(href).get_data(as_text=True))))
    assert len(rows) == 3 and {r["platform"] for r in rows} == {"instagram"}


def test_csv_cells_never_start_a_spreadsheet_formula():
    row = {"rank": 1, "influencer_id": "=HYPERLINK(\"x\")", "platform": "tiktok",
           "niche": "@food", "country": "", "score": 0.5, "reasons": ["-1 reason"],
           "followers": 10, "er": 0.1, "trend": 1.2, "audience_match": 0.5, "price": 10.0}
    text = shortlist_csv(Shortlist([row], None), "+brand", "t", "m")
    rec = next(csv.DictReader(io.StringIO(text)))
    assert rec["influencer_id"].startswith("'=") and rec["niche"] == "'@food"
    assert rec["reason_1"] == "'-1 reason" and rec["brand"] == "'+brand"
    assert rec["engagement_trend"] == "0.200"


def test_export_of_a_bad_brief_is_a_plain_422_naming_the_field(client, brand):
    resp = client.get(f"/export.csv?brand={brand}&top_n=many")
    assert resp.status_code == 422 and resp.mimetype == "text/plain"
    assert "top_n" in resp.get_data(as_text=True) and "many" in resp.get_data(as_text=True)


# ----------------------------------------------------------------------------- errors
def test_form_errors_appear_beside_their_fields(client, brand):
    resp, page = get(client, f"brand={brand}&max_followers=lots&top_n=5000&budget=abc")
    assert resp.status_code == 422
    errs = errors(page)
    assert set(errs) == {"max_followers-error", "top_n-error", "budget-error"}
    assert page.error_after["max_followers-error"] == "f-max_followers"
    assert page.error_after["top_n-error"] == "f-top_n"
    assert "'lots' is not a number" in errs["max_followers-error"]
    assert "1,000" in errs["top_n-error"]
    assert page.attrs_by_id["f-budget"]["aria-invalid"] == "true"
    assert page.rows == []


@pytest.mark.parametrize("query, field, words", [
    ("country=USA", "country", "'USA'"),
    ("min_followers=50000&max_followers=2000", "min_followers", "50000"),
    ("niche=knitting", "niche", "'knitting'"),
    ("as_of=2099-01-01", "as_of", "end of the model's data"),
])
def test_errors_of_the_ranker_land_beside_the_field_they_name(client, brand, query, field,
                                                               words):
    resp, page = get(client, f"brand={brand}&{query}")
    assert resp.status_code == 422
    errs = errors(page)
    assert list(errs) == [f"{field}-error"], errs
    assert words in errs[f"{field}-error"] and not errs[f"{field}-error"].startswith("brief")
    assert page.error_after[f"{field}-error"] == f"f-{field}"


def test_unknown_brand_and_missing_category_are_errors_beside_them(client):
    _, page = get(client, "mode=existing&brand=no-such-brand")
    assert "no brand 'no-such-brand'" in errors(page)["brand-error"]
    _, page = get(client, "mode=new&category=")
    assert "category-error" in errors(page)


def test_target_shares_over_100_percent_are_an_error_beside_them(client):
    _, page = get(client, "mode=new&category=food&age_18_24=70&age_25_34=50")
    assert "120%" in errors(page)["target_age-error"]


def test_unexpected_failure_shows_a_plain_page_never_a_trace(world, brand, monkeypatch):
    app = create_app(world.ranker, MODEL_TEXT, None)

    def broken(*args, **kwargs):  # the page's own safety net, whatever fails below it
        raise RuntimeError("secret internals")

    monkeypatch.setattr(world.ranker, "recommend", broken)
    resp = app.test_client().get(f"/?brand={brand}")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "Something went wrong" in body
    assert "Traceback" not in body and "secret internals" not in body


def test_oversized_requests_are_refused(client):
    resp = client.get("/?brand=" + "x" * 9000)
    assert resp.status_code == 414 and "Traceback" not in resp.get_data(as_text=True)
    assert client.post("/", data="x" * 20_000).status_code in (405, 413)
    assert client.get("/no-such-page").status_code == 404


def test_brand_search_returns_matching_brands(client, world):
    name = str(world.brands["name"].iloc[2])
    hits = client.get(f"/brands.json?q={name[:4].upper()}").get_json()
    assert hits and all(name[:4].lower() in h["label"].lower() for h in hits)
    assert len(client.get("/brands.json").get_json()) <= 20


# ----------------------------------------------------------------------------- serving
def test_server_binds_loopback_by_default_and_a_busy_port_is_a_clear_error(world):
    from recommender import config

    assert config.DEFAULT_HOST == "127.0.0.1"
    app = create_app(world.ranker, MODEL_TEXT, None)
    server = make_page_server(app, listen(config.DEFAULT_HOST, 0))
    try:
        assert server.server_address[0] == "127.0.0.1"
        with pytest.raises(UserError, match=f"--port {server.port}: cannot listen"):
            listen("127.0.0.1", server.port)
    finally:
        server.server_close()


def test_ui_command_help_has_an_example():
    from typer.testing import CliRunner

    from recommender.cli import app

    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output and "recommender ui" in result.output


def test_ui_command_with_an_unknown_model_is_a_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from recommender.cli import app

    result = CliRunner().invoke(app, ["ui", "--model", str(tmp_path / "nothing"),
                                      "--port", "0"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "cannot be loaded" in text and "Traceback" not in text


# ----------------------------------------------------------------------------- pieces
def test_weekly_engagement_means_per_week_strictly_before_as_of():
    from conftest import TINY_AS_OF, tiny_frames

    from recommender.validate import validate_frames

    ds = validate_frames(tiny_frames())
    weekly = weekly_engagement(ds.posts, ds.influencers, TINY_AS_OF)
    # i1: -60 d (20 interactions / 1000 followers at post) in week 11 - 8 = 3, -10 d
    # (44 / 1100) in week 10; the posts at and after as_of never count. i2 has no
    # followers_at_post: -20 d 100 / 2000 (week 9), -5 d 400 / 2000 (week 11). i3: none.
    assert weekly.loc["i1"].dropna().to_dict() == pytest.approx({3: 0.02, 10: 0.04})
    assert weekly.loc["i2"].dropna().to_dict() == pytest.approx({9: 0.05, 11: 0.2})
    assert "i3" not in weekly.index and list(weekly.columns) == list(range(12))


@pytest.mark.parametrize("text, value", [("1,000", 1000), ("5k", 5000), ("1.5m", 1.5e6),
                                         ("$250", 250), (" 12 000 ", 12000), (".5", 0.5)])
def test_numbers_are_read_the_way_planners_type_them(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-5", "1e3", "5kk", "1,0,0x"])
def test_text_that_is_not_a_number_is_refused(text):
    with pytest.raises(ValueError):
        parse_number(text)


def test_ranker_messages_map_to_form_fields():
    assert field_of("brief 0: country = 'USA': must be ...") == (
        "country", "country = 'USA': must be ...")
    assert field_of("brief 0: brand_country = 'x': bad")[0] == "market"
    assert field_of("top_n = 0: must be from 1 to 1000")[0] == "top_n"
    assert field_of("something else entirely")[0] == "brief"


def test_sparkline_skips_unknown_weeks_and_share_bars_tick_only_real_targets():
    spark = str(svg.sparkline([0.1, math.nan, 0.3, 0.2]))
    points = spark.split('points="')[1].split('"')[0].split()
    assert len(points) == 3  # the NaN week is left out, not drawn as zero
    assert str(svg.sparkline([0.1, math.nan])).count("<polyline") == 0
    bars = str(svg.share_bars(["a", "b"], [0.5, 0.5], [0.0, 1.0], "t"))
    assert bars.count('class="tgt"') == 1 and bars.count('class="aud"') == 2



def test_an_unknown_field_is_an_error_not_a_silent_default(client, brand):
    resp, page = get(client, f"brand={brand}&topn=3")  # misspelt: would show the top 10
    assert resp.status_code == 422 and page.rows == []
    assert "unknown field(s) topn" in errors(page)["brief-error"]
    assert "top_n" in errors(page)["brief-error"]


def test_a_name_two_brands_share_lists_their_ids_and_names_keep_their_case():
    from recommender.web.form import parse_brief
    from recommender.web.snapshot import brand_choices, brand_lookup

    ds = type("DS", (), {})()
    ds.brands = pd.DataFrame({"brand_id": ["b1", "b2", "b3"],
                              "name": ["Glow Co", "Glow Co", "LiftLab"],
                              "category": ["beauty"] * 3, "country": ["US"] * 3})
    choices = brand_choices(ds)
    assert choices["label"].tolist() == ["Glow Co (b1)", "Glow Co (b2)", "LiftLab (b3)"]
    lookup = brand_lookup(choices)
    form = parse_brief({"mode": "existing", "brand": "glow co"}, lookup)
    assert form.errors["brand"].startswith("brand: 'glow co' names 2 brands: b1, b2")
    assert parse_brief({"brand": "Glow Co (b2)"}, lookup).brief["brand_id"] == "b2"
    assert parse_brief({"brand": "liftlab"}, lookup).brief["brand_id"] == "b3"


def test_a_negative_budget_is_below_the_bound_not_not_a_number(client, brand):
    resp, page = get(client, f"brand={brand}&budget=-500&min_followers=-2k")
    assert resp.status_code == 422
    errs = errors(page)
    assert "'-500' must be at least 0" in errs["budget-error"]
    assert "'-2k' must be at least 0" in errs["min_followers-error"]
    assert "not a number" not in " ".join(errs.values())


def test_handles_are_shown_linked_to_their_profile_where_present(client, world, brand):
    resp = client.get(f"/?brand={brand}&top_n=10")
    html = resp.get_data(as_text=True)
    inf = world.ranker.snapshot.ds.influencers.set_index("influencer_id")
    expected = world.ranker.recommend({"brand_id": brand}, top_n=10)
    assert expected["handle"].notna().any() and expected["handle"].isna().any()
    for iid, handle in zip(expected["influencer_id"], expected["handle"], strict=True):
        if isinstance(handle, str):
            assert handle == inf.loc[iid, "handle"]
            assert (f'<a href="https://example.com/{handle}" rel="noopener noreferrer" '
                    f'target="_blank">@{handle}</a>') in html
        else:
            assert f"@Creator.{iid}" not in html
    export = client.get(f"/export.csv?brand={brand}&top_n=10").get_data(as_text=True)
    assert export.splitlines()[0].startswith("rank,influencer_id,handle,profile_url,")
