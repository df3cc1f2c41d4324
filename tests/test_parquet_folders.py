"""Tables as Parquet folders (local and file:// URLs), and `generate --parts` writing them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from recommender.cli import app
from recommender.validate import ValidationError, load_dataset

TABLES = ("influencers", "brands", "audience", "posts", "brand_audience", "collaborations")


def as_folders(world: Path, out: Path, parts: int = 3, tables=("posts", "audience")) -> Path:
    """A copy of `world` whose `tables` are folders of `parts` Parquet files each."""
    shutil.copytree(world, out)
    for name in tables:
        frame = pd.read_parquet(out / f"{name}.parquet")
        (out / f"{name}.parquet").unlink()
        (out / name).mkdir()
        for k, piece in enumerate(np.array_split(np.arange(len(frame)), parts)):
            frame.iloc[piece].to_parquet(out / name / f"part-{k:05d}.parquet", index=False)
    return out


def assert_same_tables(a, b) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(a.table(name), b.table(name), obj=name)


@pytest.fixture(scope="module")
def parted_world(small_world_dir: Path, tmp_path_factory) -> Path:
    return as_folders(small_world_dir, tmp_path_factory.mktemp("parted") / "world")


def test_a_folder_of_parts_reads_as_the_single_file(small_world_dir, parted_world):
    whole, parted = load_dataset(small_world_dir), load_dataset(parted_world)
    assert parted.files["posts"] == str(parted_world / "posts")
    assert_same_tables(whole, parted)


def test_a_file_url_reads_as_the_local_folder(parted_world):
    url = parted_world.resolve().as_uri()
    assert url.startswith("file:///")
    remote = load_dataset(url)
    assert remote.files["posts"] == f"{url}/posts" and remote.source == url
    assert_same_tables(load_dataset(parted_world), remote)


def test_hive_subfolders_become_columns_and_marker_files_are_skipped(small_world_dir, tmp_path):
    world = shutil.copytree(small_world_dir, tmp_path / "w")
    posts = pd.read_parquet(world / "posts.parquet")
    (world / "posts.parquet").unlink()
    pq.write_to_dataset(pa.Table.from_pandas(posts, preserve_index=False), world / "posts",
                        partition_cols=["sponsored"])
    (world / "posts" / "_SUCCESS").touch()
    (world / "posts" / ".part.crc").write_text("x")
    got = load_dataset(world).posts.sort_values("post_id").reset_index(drop=True)
    want = load_dataset(small_world_dir).posts.sort_values("post_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)


def test_the_folder_wins_over_the_parquet_and_csv_files(parted_world, tmp_path):
    world = shutil.copytree(parted_world, tmp_path / "w")
    posts = pd.read_parquet(world / "posts")
    posts.iloc[:10].to_parquet(world / "posts.parquet", index=False)
    posts.iloc[:5].to_csv(world / "posts.csv", index=False)
    ds = load_dataset(world)
    assert ds.files["posts"] == str(world / "posts") and len(ds.posts) == len(posts)


def test_a_corrupt_part_is_named_and_an_empty_folder_is_refused(parted_world, tmp_path):
    world = shutil.copytree(parted_world, tmp_path / "w")
    (world / "posts" / "part-00001.parquet").write_bytes(b"not parquet")
    with pytest.raises(ValidationError, match=r"posts/part-00001\.parquet: cannot be read"):
        load_dataset(world)
    shutil.rmtree(world / "posts")
    (world / "posts").mkdir()
    with pytest.raises(ValidationError, match=r"w/posts: the folder holds no Parquet file"):
        load_dataset(world)


def test_a_bad_row_in_a_part_is_reported_with_its_id(parted_world, tmp_path):
    world = shutil.copytree(parted_world, tmp_path / "w")
    part = world / "posts" / "part-00002.parquet"
    frame = pd.read_parquet(part)
    frame.loc[frame.index[3], "likes"] = -4
    frame.to_parquet(part, index=False)
    with pytest.raises(ValidationError) as err:
        load_dataset(world)
    assert f"column 'likes': 1 row breaks the rule '>= 0' (first: '{frame['post_id'].iloc[3]}')" \
        in str(err.value)


def test_an_unreachable_url_is_a_clear_error():
    result = CliRunner().invoke(app, ["validate", "--data", "nosuchproto://bucket/data"])
    assert result.exit_code != 0 and "nosuchproto://bucket/data" in result.output
    assert "Traceback" not in result.output


def test_score_all_brands_on_a_parted_world_equals_the_single_files(small_world_dir,
                                                                    parted_world,
                                                                    saved_model_dir, tmp_path):
    common = ["score", "--all-brands", "--top-k", "3", "--model", str(saved_model_dir)]
    runner = CliRunner()
    for name, data in (("whole", str(small_world_dir)),
                       ("url", parted_world.resolve().as_uri())):
        result = runner.invoke(app, [*common, "--data", data, "--out",
                                     str(tmp_path / f"{name}.parquet")])
        assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "whole.parquet"),
                                  pd.read_parquet(tmp_path / "url.parquet"))


def test_generate_parts_writes_folders_with_the_same_other_tables(tmp_path):
    runner = CliRunner()
    args = ["generate", "--influencers", "300", "--brands", "8", "--seed", "5"]
    for name, extra in (("one", []), ("three", ["--parts", "3"])):
        result = runner.invoke(app, [*args, *extra, "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    parted = tmp_path / "three"
    assert sorted(p.name for p in (parted / "posts").iterdir()) == [
        f"part-{k:05d}.parquet" for k in range(3)]
    assert not (parted / "posts.parquet").exists() and (parted / "audience").is_dir()
    one, three = load_dataset(tmp_path / "one"), load_dataset(parted)
    for name in ("influencers", "brands", "brand_audience", "collaborations", "audience"):
        pd.testing.assert_frame_equal(one.table(name), three.table(name), obj=name)
    posts = three.posts
    assert posts["post_id"].is_unique
    assert posts["influencer_id"].is_monotonic_increasing  # parts are ranges of influencers
    # every collaboration has its sponsored post at exactly its start, as with one part
    sponsored = posts[posts["sponsored"]].set_index(["influencer_id", "brand_id", "posted_at"])
    collabs = three.collaborations.set_index(["influencer_id", "brand_id", "started_at"])
    assert len(sponsored) == len(collabs) and collabs.index.isin(sponsored.index).all()
    first = pd.read_parquet(parted / "posts" / "part-00000.parquet")["influencer_id"]
    assert first.max() < pd.read_parquet(parted / "posts" / "part-00001.parquet")[
        "influencer_id"].min()
