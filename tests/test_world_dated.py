"""The generator's dated influencer attributes: quarterly rows that drift to today's values."""

from __future__ import annotations

import shutil

import pandas as pd
from typer.testing import CliRunner

from recommender.features import build_training_set
from recommender.validate import load_dataset


def test_dated_attributes_keep_today_current_and_give_past_bookings_past_prices(
        small_world_dir, tmp_path):
    from recommender.world.dated import write_dated_attributes

    folder = tmp_path / "dated"
    shutil.copytree(small_world_dir, folder)
    write_dated_attributes(folder, seed=0)
    dated, undated = load_dataset(folder), load_dataset(small_world_dir)
    assert dated.influencer_history is not None and undated.influencer_history is None
    assert len(dated.influencer_history) > 2 * len(dated.influencers)
    cols = [c for c in undated.influencers.columns if c != "valid_from"]
    pd.testing.assert_frame_equal(dated.influencers[cols], undated.influencers[cols])  # today
    early = build_training_set(dated).iloc[:200]
    same = build_training_set(undated).iloc[:200]
    assert (early["price_per_follower"] != same["price_per_follower"]).mean() > 0.5
    assert (early["n_posts"] == same["n_posts"]).all()  # only the attributes differ


def test_generate_writes_dated_attributes_on_request(tmp_path):
    from recommender.cli import app

    out = tmp_path / "w"
    result = CliRunner().invoke(app, ["generate", "--out", str(out), "--influencers", "40",
                                      "--brands", "3", "--months", "12", "--dated-attributes"])
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(out / "influencers.parquet")["valid_from"].notna().any()
