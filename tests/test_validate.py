"""Every rule of the data contract: a passing and a failing case, named after the rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recommender.cli import app
from recommender.validate import ValidationError, load_dataset, load_pairs, validate_frames


def tiny_frames() -> dict[str, pd.DataFrame]:
    """A valid world of two influencers and two brands, every optional column present."""
    return {
        "influencers": pd.DataFrame({
            "influencer_id": ["007", "i2"], "platform": ["Instagram ", "tiktok"],
            "niche": ["beauty", "Fitness"], "followers": ["5000", "20000"],
            "country": ["us", "GB"], "real_follower_share": ["0.9", "0.7"],
            "price_per_post": ["100", ""],
        }),
        "audience": pd.DataFrame({
            "influencer_id": ["007", "007", "007", "i2"],
            "dimension": ["age", "age", "gender", "country"],
            "segment": ["18-24", "25-34", "Female", "us"],
            "share": ["0.6", "0.4", "0.8", "0.5"],
        }),
        "posts": pd.DataFrame({
            "post_id": ["p1", "p2", "p3"], "influencer_id": ["007", "007", "i2"],
            "posted_at": ["2025-01-01T10:00:00", "2025-01-02T10:00:00+02:00",
                          "2025-01-03 00:00:00Z"],
            "likes": ["100", "120", "900"], "comments": ["5", "6", "30"],
            "views": ["", "", "10000"], "followers_at_post": ["4900", "", "19000"],
            "sponsored": ["false", "TRUE", ""], "brand_id": ["", "b1", ""],
        }),
        "brands": pd.DataFrame({
            "brand_id": ["b1", "b2"], "name": ["Glow", "Lift"],
            "category": ["beauty", "fitness"], "country": ["US", ""],
        }),
        "brand_audience": pd.DataFrame({
            "brand_id": ["b1", "b1"], "dimension": ["age", "gender"],
            "segment": ["18-24", "female"], "share": ["0.7", "1.0"],
        }),
        "collaborations": pd.DataFrame({
            "collaboration_id": ["c1", "c2"], "brand_id": ["b1", "b2"],
            "influencer_id": ["007", "i2"],
            "started_at": ["2025-01-02T08:00:00Z", "2025-01-05T00:00:00Z"],
            "fee": ["100", ""], "clicks": ["40", ""], "conversions": ["1", "0"],
        }),
    }


def write_world(frames: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder


def broken(table: str, column: str, value: str, row: int = 0) -> dict[str, pd.DataFrame]:
    frames = tiny_frames()
    df = frames[table].copy()
    df.loc[row, column] = value
    frames[table] = df
    return frames


def test_valid_world_loads_with_types_and_normalised_text():
    ds = validate_frames(tiny_frames())
    assert ds.influencers["influencer_id"].tolist() == ["007", "i2"]
    assert ds.influencers["platform"].tolist() == ["instagram", "tiktok"]
    assert ds.influencers["niche"].tolist() == ["beauty", "fitness"]
    assert ds.influencers["country"].tolist() == ["US", "GB"]
    assert ds.influencers["followers"].dtype == "int64"
    assert ds.audience["segment"].tolist() == ["18-24", "25-34", "female", "US"]
    assert str(ds.posts["posted_at"].dtype) == "datetime64[ns, UTC]"
    # a zone-less timestamp is UTC; +02:00 is converted
    assert ds.posts["posted_at"].tolist()[:2] == [
        pd.Timestamp("2025-01-01T10:00:00Z"), pd.Timestamp("2025-01-02T08:00:00Z")]
    assert ds.posts["sponsored"].tolist() == [False, True, False]
    assert ds.posts["views"].isna().tolist() == [True, True, False]
    assert ds.latest_timestamp == pd.Timestamp("2025-01-05T00:00:00Z")


def test_csv_id_with_leading_zero_stays_a_string(tmp_path):
    ds = load_dataset(write_world(tiny_frames(), tmp_path / "w"))
    assert "007" in set(ds.influencers["influencer_id"])
    assert set(ds.posts["influencer_id"]) == {"007", "i2"}


def test_parquet_integer_ids_become_decimal_strings(tmp_path):
    frames = tiny_frames()
    folder = write_world(frames, tmp_path / "w")
    inf = frames["influencers"].assign(influencer_id=[7, 2])
    inf.assign(followers=inf["followers"].astype(int)).to_parquet(folder / "influencers.parquet")
    posts = frames["posts"].assign(influencer_id=["7", "7", "2"])
    posts.to_csv(folder / "posts.csv", index=False)
    for name in ("audience", "collaborations"):
        (folder / f"{name}.csv").unlink()
    ds = load_dataset(folder)  # Parquet wins over the CSV beside it
    assert ds.influencers["influencer_id"].tolist() == ["7", "2"]


def test_optional_tables_and_columns_may_be_absent():
    frames = tiny_frames()
    for name in ("audience", "brand_audience", "collaborations"):
        del frames[name]
    frames["influencers"] = frames["influencers"].drop(columns=["price_per_post", "country"])
    ds = validate_frames(frames)
    assert not ds.has_table("audience") and len(ds.audience) == 0
    assert list(ds.audience.columns) == ["influencer_id", "dimension", "segment", "share"]
    assert ds.influencers["price_per_post"].isna().all()
    assert not ds.has_column("influencers", "price_per_post")


def test_extra_columns_are_ignored_with_a_warning():
    frames = tiny_frames()
    frames["brands"] = frames["brands"].assign(mood="happy")
    ds = validate_frames(frames)
    assert "mood" not in ds.brands.columns
    assert any("ignored columns: mood" in w for w in ds.warnings)


def test_unknown_niche_is_kept_with_a_warning():
    ds = validate_frames(broken("influencers", "niche", "Knitting"))
    assert ds.influencers["niche"].tolist()[0] == "knitting"
    assert any("knitting" in w for w in ds.warnings)


BROKEN_VARIANTS = [
    # (table, column, bad value, rule fragment)
    ("influencers", "influencer_id", "i2", "unique"),
    ("influencers", "influencer_id", "", "a value is required"),
    ("influencers", "platform", "myspace", "one of instagram"),
    ("influencers", "niche", "", "a value is required"),
    ("influencers", "followers", "-5", ">= 0"),
    ("influencers", "followers", "lots", "an integer"),
    ("influencers", "followers", "12.5", "an integer"),
    ("influencers", "followers", "1e30", "an integer below"),
    ("influencers", "country", "USA", "ISO 3166-1 alpha-2"),
    ("influencers", "real_follower_share", "1.5", "<= 1"),
    ("influencers", "real_follower_share", "nan", "a number"),
    ("influencers", "price_per_post", "inf", "a finite number"),
    ("influencers", "price_per_post", "-1", ">= 0"),
    ("audience", "influencer_id", "ghost", "must exist in influencers.influencer_id"),
    ("audience", "dimension", "income", "one of age, gender, country"),
    ("audience", "segment", "18-99", "a segment of its dimension"),
    ("audience", "segment", "25-34", "one row per"),
    ("audience", "share", "1.2", "<= 1"),
    ("audience", "share", "0.7", "add up to at most 1.01"),
    ("posts", "post_id", "p2", "unique"),
    ("posts", "influencer_id", "ghost", "must exist in influencers.influencer_id"),
    ("posts", "posted_at", "yesterday", "an ISO 8601 timestamp"),
    ("posts", "posted_at", "20245-01-01", "an ISO 8601 timestamp"),
    ("posts", "likes", "-1", ">= 0"),
    ("posts", "comments", "", "a value is required"),
    ("posts", "views", "-3", ">= 0"),
    ("posts", "followers_at_post", "-3", ">= 0"),
    ("posts", "sponsored", "maybe", "true or false"),
    ("brands", "brand_id", "b2", "unique"),
    ("brands", "category", "", "a value is required"),
    ("brands", "country", "united states", "ISO 3166-1 alpha-2"),
    ("brand_audience", "brand_id", "ghost", "must exist in brands.brand_id"),
    ("brand_audience", "share", "-0.1", ">= 0"),
    ("collaborations", "collaboration_id", "c2", "unique"),
    ("collaborations", "brand_id", "ghost", "must exist in brands.brand_id"),
    ("collaborations", "influencer_id", "ghost", "must exist in influencers.influencer_id"),
    ("collaborations", "started_at", "2025-13-01", "an ISO 8601 timestamp"),
    ("collaborations", "fee", "-10", ">= 0"),
    ("collaborations", "clicks", "-1", ">= 0"),
    ("collaborations", "conversions", "-1", ">= 0"),
    ("collaborations", "conversions", "", "a value is required"),
]


@pytest.mark.parametrize(("table", "column", "value", "rule"), BROKEN_VARIANTS)
def test_broken_rule_is_refused_naming_file_column_and_rule(table, column, value, rule):
    with pytest.raises(ValidationError) as info:
        validate_frames(broken(table, column, value))
    message = str(info.value)
    assert f"column '{column}'" in message
    assert rule in message
    assert table in message


def test_missing_required_column_is_refused():
    frames = tiny_frames()
    frames["posts"] = frames["posts"].drop(columns=["likes"])
    with pytest.raises(ValidationError, match="column 'likes': required column is missing"):
        validate_frames(frames)


def test_missing_required_table_is_refused():
    frames = tiny_frames()
    del frames["brands"]
    with pytest.raises(ValidationError, match="brands.*required table is missing"):
        validate_frames(frames)


def test_empty_required_table_is_refused():
    frames = tiny_frames()
    frames["influencers"] = frames["influencers"].iloc[0:0]
    with pytest.raises(ValidationError, match="influencers: the table has no rows"):
        validate_frames(frames)


def test_error_names_the_first_offending_ids():
    with pytest.raises(ValidationError) as info:
        validate_frames(broken("posts", "likes", "-1"))
    (problem,) = info.value.problems
    assert problem.first_ids == ("'p1'",) and problem.count == 1


def test_quarantine_keeps_valid_rows_and_cascades_to_children():
    frames = broken("influencers", "followers", "-5")  # influencer 007 is rejected
    # a tiny world: 2 of its 3 posts go with 007, above the share quarantine sets aside alone
    ds = validate_frames(frames, on_invalid="quarantine", max_quarantined_share=1.0)
    assert ds.influencers["influencer_id"].tolist() == ["i2"]
    # its posts, audience and collaboration now dangle, so they are rejected too, not dropped
    assert ds.posts["post_id"].tolist() == ["p3"]
    rules = set(zip(ds.rejects["table"], ds.rejects["rule"], strict=True))
    assert ("influencers", ">= 0") in rules
    assert ("posts", "must exist in influencers.influencer_id") in rules
    lost = len(tiny_frames()["posts"]) - len(ds.posts)
    assert (ds.rejects["table"] == "posts").sum() == lost


def test_pairs_default_as_of_is_latest_timestamp(tmp_path):
    ds = validate_frames(tiny_frames())
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"brand_id": ["b1"], "influencer_id": ["007"]}).to_csv(path, index=False)
    pairs, rejects = load_pairs(path, ds)
    assert pairs["as_of"].tolist() == [ds.latest_timestamp] and rejects.empty


def test_pairs_with_unknown_brand_are_refused(tmp_path):
    ds = validate_frames(tiny_frames())
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"brand_id": ["nope"], "influencer_id": ["007"]}).to_csv(path, index=False)
    with pytest.raises(ValidationError, match="column 'brand_id'.*must exist in brands"):
        load_pairs(path, ds)


def test_unreadable_file_is_refused_naming_it(tmp_path):
    folder = write_world(tiny_frames(), tmp_path / "w")
    (folder / "posts.csv").write_bytes(b"\xff\xfe\x00garbage\x00\xff")
    with pytest.raises(ValidationError, match="posts.csv"):
        load_dataset(folder)


runner = CliRunner()


def test_cli_validate_prints_summary_and_exits_zero(tmp_path):
    folder = write_world(tiny_frames(), tmp_path / "w")
    result = runner.invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 0, result.output
    assert "influencers" in result.output and "valid" in result.output


def test_cli_validate_refuses_broken_data_without_a_trace(tmp_path):
    folder = write_world(broken("posts", "likes", "-1"), tmp_path / "w")
    result = runner.invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 2
    assert "column 'likes'" in result.output and "Traceback" not in result.output


def test_cli_validate_quarantine_writes_rejects(tmp_path):
    folder = write_world(broken("posts", "likes", "-1"), tmp_path / "w")
    rejects = tmp_path / "rejects.csv"
    result = runner.invoke(app, ["validate", "--data", str(folder), "--on-invalid",
                                 "quarantine", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(rejects, dtype=str)
    assert written["id"].tolist() == ["'p1'"] and written["rule"].tolist() == [">= 0"]


def test_timestamp_in_the_future_is_refused_and_never_taken_as_now():
    frames = broken("collaborations", "started_at", "2062-03-01T00:00:00Z")  # c1 mistyped
    with pytest.raises(ValidationError) as info:
        validate_frames(frames)
    (problem,) = info.value.problems
    assert problem.column == "started_at" and problem.first_ids == ("'c1'",)
    assert "not in the future" in problem.rule
    ds = validate_frames(frames, on_invalid="quarantine")
    assert ds.latest_timestamp == pd.Timestamp("2025-01-05T00:00:00Z")
    assert ds.rejects["id"].tolist() == ["'c1'"]


def test_csv_beside_parquet_of_the_same_table_is_named_in_a_warning(tmp_path):
    folder = write_world(tiny_frames(), tmp_path / "raw")
    stale = tiny_frames()["brands"].assign(name=["Old", "Older"])
    stale.to_parquet(folder / "brands.parquet", index=False)  # wins over brands.csv
    ds = load_dataset(folder)
    assert ds.brands["name"].tolist() == ["Old", "Older"]
    (warning,) = [w for w in ds.warnings if "brands.csv" in w]
    assert str(folder / "brands.csv") in warning and str(folder / "brands.parquet") in warning
    result = CliRunner().invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 0 and "brands.csv: not read" in " ".join(result.output.split())


def test_quarantine_refuses_to_set_aside_a_whole_table(tmp_path):
    frames = tiny_frames()
    frames["collaborations"] = frames["collaborations"].assign(
        started_at=["15/01/2025 08:00", "25/01/2025 00:00"])  # DD/MM: every row misread
    with pytest.raises(ValidationError) as info:
        validate_frames(frames, on_invalid="quarantine")
    (problem,) = info.value.problems
    assert problem.fatal and problem.table == "collaborations" and problem.column == "started_at"
    assert "2 of 2 rows" in problem.rule and "an ISO 8601 timestamp" in problem.rule
    frames = broken("brands", "category", "", row=1)  # 1 of 2 brands: half, allowed
    assert len(validate_frames(frames, on_invalid="quarantine").brands) == 1
    frames = broken("influencers", "platform", "myspace")  # 007: 2 of the 3 posts cascade
    folder = write_world(frames, tmp_path / "raw")
    result = CliRunner().invoke(app, ["validate", "--data", str(folder), "--on-invalid",
                                      "quarantine", "--rejects", str(tmp_path / "r.csv")])
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and "[green]valid" not in text and "\nvalid" not in text
    assert "posts.csv: column 'influencer_id': quarantine would set aside 2 of 3" in text
    assert not (tmp_path / "r.csv").exists()


def test_dated_influencers_are_unique_per_valid_from_and_the_latest_row_is_current():
    frames = tiny_frames()
    inf = frames["influencers"]
    later = inf.iloc[[0]].assign(price_per_post=999.0)
    inf = pd.concat([inf, later], ignore_index=True)
    inf["valid_from"] = [None] * (len(inf) - 1) + ["2024-01-01T00:00:00Z"]
    frames["influencers"] = inf
    ds = validate_frames(frames)
    assert ds.influencers["influencer_id"].is_unique
    first = ds.influencers["influencer_id"].iloc[0]
    assert ds.influencers.set_index("influencer_id").loc[first, "price_per_post"] == 999.0
    assert len(ds.influencer_history) == len(inf)
    frames["influencers"] = pd.concat([inf, inf.iloc[[-1]]], ignore_index=True)  # same instant
    with pytest.raises(ValidationError, match="unique per valid_from"):
        validate_frames(frames)


def test_pairs_errors_name_the_offending_value_and_its_row(tmp_path):
    ds = validate_frames(tiny_frames())
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"brand_id": ["b1", "b2", "b1"],
                  "influencer_id": ["007", "i2", "i9999"]}).to_csv(path, index=False)
    with pytest.raises(ValidationError) as info:
        load_pairs(path, ds)
    (problem,) = info.value.problems
    assert problem.column == "influencer_id" and problem.first_ids == ("row 3: 'i9999'",)
    assert "(first: row 3: 'i9999')" in problem.message()  # was "(first: 'b1')"
    pairs, rejects = load_pairs(path, ds, on_invalid="quarantine")
    assert len(pairs) == 2 and rejects["id"].tolist() == ["row 3: 'i9999'"]
    assert rejects["row"].tolist() == [3] and rejects["value"].tolist() == ["i9999"]


def test_brand_names_keep_their_case_while_vocabularies_are_lower_cased():
    ds = validate_frames(broken("brands", "name", "  GlowUp Labs "))
    assert ds.brands["name"].tolist() == ["GlowUp Labs", "Lift"]
    assert ds.brands["category"].tolist() == ["beauty", "fitness"]


def test_cli_validate_prints_each_warning_once(tmp_path, caplog):
    frames = tiny_frames()
    frames["brands"] = frames["brands"].assign(notes=["a", "b"])
    folder = write_world(frames, tmp_path / "raw")
    with caplog.at_level("WARNING"):
        result = CliRunner().invoke(app, ["validate", "--data", str(folder)])
    assert result.exit_code == 0
    assert " ".join(result.output.split()).count("ignored columns: notes") == 1
    assert not [r for r in caplog.records if "ignored columns" in r.getMessage()]  # not twice


def test_handles_and_profile_urls_are_optional_kept_as_written_and_urls_checked():
    frames = tiny_frames()
    frames["influencers"] = frames["influencers"].assign(
        handle=["Glow.Daily", ""], profile_url=["https://instagram.com/Glow.Daily", ""])
    ds = validate_frames(frames)
    assert ds.influencers["handle"].tolist()[0] == "Glow.Daily" and ds.influencers[
        "handle"].isna().tolist() == [False, True]
    assert ds.influencers["profile_url"].iloc[0] == "https://instagram.com/Glow.Daily"
    assert not ds.warnings  # contract v2 columns, not "ignored columns"
    bad = frames["influencers"].assign(profile_url=["javascript:alert(1)", ""])
    with pytest.raises(ValidationError) as info:
        validate_frames({**frames, "influencers": bad})
    (problem,) = info.value.problems
    assert problem.column == "profile_url" and problem.rule == "an http(s) URL"
