"""Feature export: data folder + pairs file -> Parquet of keys and every feature."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import tiny_frames

from recommender.features import FEATURE_COLUMNS, export_features
from recommender.validate import ValidationError


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name, frame in tiny_frames().items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_export_writes_keys_and_every_feature(data_dir, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"brand_id": ["b1", "b2"], "influencer_id": ["i1", "i3"],
                  "as_of": ["2024-06-01T00:00:00Z", ""]}).to_csv(pairs, index=False)
    out = tmp_path / "out" / "features.parquet"
    assert export_features(data_dir, pairs, out) == 2
    got = pd.read_parquet(out)
    assert list(got.columns) == ["brand_id", "influencer_id", "as_of", *FEATURE_COLUMNS]
    assert got.loc[0, "n_posts"] == 4
    assert got.loc[1, "as_of"] == pd.Timestamp("2024-06-11T00:00:00Z")  # latest: c5


def test_export_refuses_unknown_ids_and_writes_nothing(data_dir, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"brand_id": ["b1", "zz"], "influencer_id": ["i1", "i1"]}).to_csv(
        pairs, index=False)
    out = tmp_path / "features.parquet"
    with pytest.raises(ValidationError, match="brand_id"):
        export_features(data_dir, pairs, out)
    assert not out.exists()


def test_export_quarantines_bad_pairs_beside_the_output(data_dir, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"brand_id": ["b1", "zz"], "influencer_id": ["i1", "i1"]}).to_csv(
        pairs, index=False)
    out = tmp_path / "features.parquet"
    assert export_features(data_dir, pairs, out, on_invalid="quarantine") == 1
    rejects = pd.read_csv(tmp_path / "features.rejects.csv")
    assert rejects["column"].tolist() == ["brand_id"]
