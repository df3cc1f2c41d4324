"""Batch scoring: same scores as the model and the ranker, chunking, bad pairs, atomic output."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from recommender.batch import resolve_model, score_pairs
from recommender.errors import UserError
from recommender.features import build_features
from recommender.model import ConversionModel
from recommender.nightly import catalogue, score_all_brands
from recommender.pairs import fast_pairs
from recommender.validate import ValidationError, load_dataset, load_pairs, validate_pairs

pytestmark = pytest.mark.slow
SCORE_COLUMNS = ["brand_id", "influencer_id", "as_of", "score", "model_name", "model_version"]


@pytest.fixture(scope="module")
def world(trained_world: dict, saved_model_dir: Path) -> dict:
    ds = load_dataset(trained_world["data_dir"])
    return {**trained_world, "ds": ds, "model_dir": saved_model_dir}


def random_pairs(ds, n: int, seed: int = 0) -> pd.DataFrame:
    """n pairs; a third without as_of, the rest at instants spread over the data's last year."""
    rng = np.random.default_rng(seed)
    latest = ds.latest_timestamp
    days = rng.integers(1, 365, n)
    as_of = [None if i % 3 == 0 else (latest - pd.Timedelta(days=int(d))).isoformat()
             for i, d in enumerate(days)]
    return pd.DataFrame({"brand_id": rng.choice(ds.brands["brand_id"].to_numpy(), n),
                         "influencer_id": rng.choice(ds.influencers["influencer_id"].to_numpy(), n),
                         "as_of": as_of})


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_scores_equal_the_model_on_the_features_of_training(world, tmp_path):
    pairs = random_pairs(world["ds"], 400)
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    summary = score_pairs(tmp_path / "pairs.csv", tmp_path / "scores.parquet",
                          model_uri=str(world["model_dir"]), data_dir=world["data_dir"],
                          chunk_size=150)
    got = pd.read_parquet(tmp_path / "scores.parquet")
    assert list(got.columns) == SCORE_COLUMNS and summary.rows == len(got) == 400
    valid, _ = load_pairs(tmp_path / "pairs.csv", world["ds"])
    expected = world["result"].model.predict_proba(build_features(world["ds"], valid))
    np.testing.assert_allclose(got["score"], expected, rtol=0, atol=1e-6)
    assert got["brand_id"].tolist() == pairs["brand_id"].tolist()
    assert (got.loc[pairs["as_of"].isna(), "as_of"] == world["ds"].latest_timestamp).all()
    assert set(got["model_version"]) == {"local"}


def test_scores_equal_the_rankers_and_name_the_registered_version(world, tmp_path):
    mlflow.set_tracking_uri(world["tracking_uri"])
    mlflow.set_registry_uri(world["tracking_uri"])
    uri = f"models:/{world['model_name']}@champion"
    from recommender.pyfunc import load_ranker

    ranker = load_ranker(uri)
    brands = world["ds"].brands["brand_id"].iloc[:2].tolist()
    ranked = pd.concat([ranker.recommend({"brand_id": b}, top_n=40, exhaustive=True)
                        for b in brands], ignore_index=True)
    ranked[["brand_id", "influencer_id"]].to_parquet(tmp_path / "pairs.parquet")
    score_pairs(tmp_path / "pairs.parquet", tmp_path / "scores.parquet", model_uri=uri,
                data_dir=world["data_dir"])
    got = pd.read_parquet(tmp_path / "scores.parquet")
    np.testing.assert_allclose(got["score"], ranked["score"].astype(float), rtol=0, atol=1e-6)
    version = mlflow.MlflowClient().get_model_version_by_alias(world["model_name"], "champion")
    assert set(got["model_name"]) == {world["model_name"]}
    assert set(got["model_version"]) == {str(version.version)}


def test_chunk_size_does_not_change_the_output(world, tmp_path):
    random_pairs(world["ds"], 300, seed=1).to_csv(tmp_path / "pairs.csv", index=False)
    frames = []
    for size in (50, 128, 100_000):
        out = tmp_path / f"scores-{size}.parquet"
        score_pairs(tmp_path / "pairs.csv", out, model_uri=str(world["model_dir"]),
                    data_dir=world["data_dir"], chunk_size=size)
        frames.append(pd.read_parquet(out))
        assert pq.ParquetFile(out).num_row_groups == -(-300 // size)
    pd.testing.assert_frame_equal(frames[0], frames[1])
    pd.testing.assert_frame_equal(frames[0], frames[2])


def test_bad_pairs_fail_naming_file_column_rule_and_counting_every_chunk(world, tmp_path):
    pairs = random_pairs(world["ds"], 100, seed=2)
    pairs.loc[[3, 95], "influencer_id"] = ["ghost-1", "ghost-2"]
    pairs.loc[50, "as_of"] = "not a date"
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    with pytest.raises(ValidationError) as caught:
        score_pairs(tmp_path / "pairs.csv", tmp_path / "scores.parquet",
                    model_uri=str(world["model_dir"]), data_dir=world["data_dir"], chunk_size=30)
    text = str(caught.value)
    assert "pairs.csv: column 'influencer_id': 2 rows break the rule 'must exist in " \
           "influencers.influencer_id'" in text
    assert "column 'as_of': 1 row breaks" in text
    assert files_in(tmp_path) == {"pairs.csv"}


def test_a_repeated_header_is_refused_as_load_pairs_refuses_it(world, tmp_path):
    # regression: the chunked reader renamed the repeat (brand_id.1) and scored the pairs
    pairs = random_pairs(world["ds"], 10, seed=4)[["brand_id", "influencer_id"]]
    pairs.assign(again=pairs["brand_id"]).to_csv(
        tmp_path / "pairs.csv", index=False, header=["brand_id", "influencer_id", "brand_id"])
    with pytest.raises(ValidationError, match="appears more than once") as whole:
        load_pairs(tmp_path / "pairs.csv", world["ds"])
    with pytest.raises(ValidationError) as chunked:
        score_pairs(tmp_path / "pairs.csv", tmp_path / "scores.parquet",
                    model_uri=str(world["model_dir"]), data_dir=world["data_dir"], chunk_size=3)
    assert str(chunked.value) == str(whole.value)
    assert files_in(tmp_path) == {"pairs.csv"}


def test_quarantine_scores_the_valid_rows_and_writes_rejects_with_file_rows(world, tmp_path):
    pairs = random_pairs(world["ds"], 60, seed=3)
    pairs.loc[45, "brand_id"] = "no-such-brand"
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    summary = score_pairs(tmp_path / "pairs.csv", tmp_path / "scores.parquet",
                          model_uri=str(world["model_dir"]), data_dir=world["data_dir"],
                          chunk_size=20, on_invalid="quarantine")
    assert summary.rows == 59 and summary.rejected == 1
    rejects = pd.read_csv(summary.rejects_path)
    assert rejects[["row", "column", "value"]].values.tolist() == [[46, "brand_id",
                                                                    "no-such-brand"]]
    assert "no-such-brand" not in set(pd.read_parquet(tmp_path / "scores.parquet")["brand_id"])


def test_failure_late_in_the_file_keeps_the_earlier_output_intact(world, tmp_path):
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"yesterday's scores")
    pairs = random_pairs(world["ds"], 200, seed=4)
    pairs.loc[199, "brand_id"] = "late-bad-brand"
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    with pytest.raises(ValidationError, match="late-bad-brand"):
        score_pairs(tmp_path / "pairs.csv", out, model_uri=str(world["model_dir"]),
                    data_dir=world["data_dir"], chunk_size=50)
    assert out.read_bytes() == b"yesterday's scores"
    assert files_in(tmp_path) == {"pairs.csv", "scores.parquet"}


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_score_command_never_replaces_the_earlier_output(world, tmp_path, sig):
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"yesterday's scores")
    random_pairs(world["ds"], 20_000, seed=5).to_csv(tmp_path / "pairs.csv", index=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "score", "--pairs", str(tmp_path / "pairs.csv"),
         "--out", str(out), "--model", str(world["model_dir"]), "--data",
         str(world["data_dir"]), "--chunk-size", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not any(n.endswith(".tmp") for n in files_in(tmp_path)):  # writing has begun
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert out.read_bytes() == b"yesterday's scores"
    if sig == signal.SIGTERM:  # a catchable stop also removes its temporary file
        assert files_in(tmp_path) == {"pairs.csv", "scores.parquet"}


def test_all_brands_gives_each_brand_its_best_k_of_the_catalogue_in_order(world, tmp_path):
    ds = world["ds"]
    summary = score_all_brands(tmp_path / "top.parquet", top_k=5,
                               model_uri=str(world["model_dir"]), data_dir=world["data_dir"],
                               chunk_size=20_000, exhaustive=True)
    top = pd.read_parquet(tmp_path / "top.parquet")
    n_brands = len(ds.brands)
    assert summary.rows == len(top) == 5 * n_brands
    assert list(top.columns[:4]) == ["brand_id", "rank", "influencer_id", "score"]
    assert top.groupby("brand_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3, 4, 5]).all()
    assert (top.groupby("brand_id")["score"].diff().dropna() <= 0).all()
    assert set(top["influencer_id"]) <= set(catalogue(ds))
    # the same as scoring every brand x catalogue pair and keeping the best five
    brand = ds.brands["brand_id"].iloc[7]
    pd.DataFrame({"brand_id": brand, "influencer_id": catalogue(ds)}).to_parquet(
        tmp_path / "pairs.parquet")
    score_pairs(tmp_path / "pairs.parquet", tmp_path / "all.parquet",
                model_uri=str(world["model_dir"]), data_dir=world["data_dir"])
    full = pd.read_parquet(tmp_path / "all.parquet").set_index("influencer_id")["score"]
    mine = top[top["brand_id"] == brand]
    np.testing.assert_array_equal(mine["score"], np.sort(full.to_numpy())[::-1][:5])
    np.testing.assert_array_equal(full[mine["influencer_id"]], mine["score"])
    assert set(full[full > mine["score"].min()].index) <= set(mine["influencer_id"])


def test_all_brands_with_the_first_stage_keeps_the_brute_force_top_k(world, tmp_path):
    """The ranker's shortlist (here 150 of the ~1,400-row catalogue per brand, so that it
    matters) keeps >= 95% of the brute-force top 10; the scores it keeps are the same."""
    common = {"top_k": 10, "model_uri": str(world["model_dir"]), "data_dir": world["data_dir"]}
    score_all_brands(tmp_path / "exact.parquet", exhaustive=True, **common)
    # small chunks: a chunk holds parts of several brands and a brand spans several chunks
    score_all_brands(tmp_path / "fast.parquet", shortlist_size=150, chunk_size=400, **common)
    exact, fast = (pd.read_parquet(tmp_path / f"{n}.parquet") for n in ("exact", "fast"))
    assert len(catalogue(world["ds"])) > 5 * 150
    assert len(fast) == len(exact) == 10 * len(world["ds"].brands)
    assert list(fast["brand_id"].unique()) == list(world["ds"].brands["brand_id"])
    both = exact.merge(fast, on=["brand_id", "influencer_id"], suffixes=("", "_fast"))
    assert len(both) / len(exact) >= 0.95
    np.testing.assert_array_equal(both["score"], both["score_fast"])
    assert (fast.groupby("brand_id")["score"].diff().dropna() <= 0).all()


def test_all_brands_output_does_not_depend_on_the_chunk_size(world, tmp_path):
    common = {"top_k": 4, "model_uri": str(world["model_dir"]), "data_dir": world["data_dir"],
              "shortlist_size": 100}
    score_all_brands(tmp_path / "a.parquet", chunk_size=50_000, **common)
    score_all_brands(tmp_path / "b.parquet", chunk_size=37, **common)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a.parquet"),
                                  pd.read_parquet(tmp_path / "b.parquet"))


@pytest.mark.parametrize("case", ["strings", "no_as_of", "blank_as_of", "naive_times",
                                  "zoned_times"])
def test_fast_path_returns_exactly_what_validate_pairs_returns(world, case):
    ds = world["ds"]
    raw = random_pairs(ds, 50, seed=6)
    raw["as_of"] = raw["as_of"].fillna("2024-03-01T10:00:00")
    if case == "no_as_of":
        raw = raw.drop(columns="as_of")
    elif case == "blank_as_of":
        raw.loc[::4, "as_of"] = None
    elif case == "naive_times":
        raw["as_of"] = pd.to_datetime(raw["as_of"], utc=True, format="ISO8601").dt.tz_localize(None)
    elif case == "zoned_times":
        raw["as_of"] = pd.to_datetime(raw["as_of"], utc=True, format="ISO8601").dt.tz_convert(
            "Europe/Paris")
    raw = raw.astype({c: "str" for c in ("brand_id", "influencer_id")})
    fast = fast_pairs(raw, pd.Index(ds.brands["brand_id"]),
                      pd.Index(ds.influencers["influencer_id"]), ds.latest_timestamp)
    assert fast is not None
    pd.testing.assert_frame_equal(fast, validate_pairs(raw, ds)[0])


@pytest.mark.parametrize("change", [("influencer_id", "ghost"), ("as_of", "2024-13-45"),
                                    ("as_of", "2024-01-01 "), ("brand_id", None)])
def test_fast_path_leaves_anything_doubtful_to_the_full_check(world, change):
    ds = world["ds"]
    raw = random_pairs(ds, 10, seed=7).fillna({"as_of": "2024-01-01"}).astype("str")
    column, value = change
    raw.loc[4, column] = value
    assert fast_pairs(raw, pd.Index(ds.brands["brand_id"]),
                      pd.Index(ds.influencers["influencer_id"]), ds.latest_timestamp) is None
    as_ints = pd.DataFrame({"brand_id": [1, 2], "influencer_id": [3, 4]})
    assert fast_pairs(as_ints, pd.Index(["1"]), pd.Index(["3"]), ds.latest_timestamp) is None


def test_model_uri_resolution_names_alias_and_version(world):
    mlflow.set_tracking_uri(world["tracking_uri"])
    mlflow.set_registry_uri(world["tracking_uri"])
    name = world["model_name"]
    model, ref = resolve_model(f"models:/{name}/1")
    assert (ref.name, ref.version) == (name, "1") and isinstance(model, ConversionModel)
    with pytest.raises(UserError, match="no-such-model"):
        resolve_model("models:/no-such-model@champion")
    _, local = resolve_model(str(world["model_dir"]))
    assert (local.name, local.version) == ("conversion", "local")


def test_score_command_writes_scores_and_refuses_two_inputs(world, tmp_path):
    from recommender.cli import app

    random_pairs(world["ds"], 30, seed=8).to_csv(tmp_path / "pairs.csv", index=False)
    common = ["--out", str(tmp_path / "s.parquet"), "--model", str(world["model_dir"]),
              "--data", str(world["data_dir"])]
    result = CliRunner().invoke(app, ["score", "--pairs", str(tmp_path / "pairs.csv"), *common])
    assert result.exit_code == 0, result.output
    assert "wrote 30 scores" in result.output
    both = CliRunner().invoke(app, ["score", "--all-brands", "--pairs",
                                    str(tmp_path / "pairs.csv"), *common])
    assert both.exit_code == 2 and "either --pairs FILE or --all-brands" in both.output
    nowhere = CliRunner().invoke(app, ["score", "--pairs", str(tmp_path / "pairs.csv"),
                                       "--workers", "2", *common])
    assert nowhere.exit_code == 2 and "need --engine dask" in nowhere.output
