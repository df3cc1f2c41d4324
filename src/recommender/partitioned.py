"""The Dask engine's data side: posts read, validated and featurised by workers, part by part.

The client reads and validates the small tables (influencers, brands, audiences,
collaborations) and only lists the parts of the posts folder. Workers check each part
against the contract (the influencer ids broadcast as its parent), then read the parts
again, shuffle the posts by influencer (hash) so that each partition holds every post of
its influencers, restore the file order within each partition, and compute the
influencer-side point-in-time features of their influencers there. The client receives
one row per influencer, never a post. The features equal the local engine's bit for bit
(`segment_sums` never reads other influencers' rows; tested).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recommender.dataset import Dataset, Problem, ValidationError
from recommender.features import PairContext
from recommender.features.assemble import influencer_features
from recommender.io import (
    ReadError,
    is_folder,
    location,
    parquet_parts,
    part_name,
    read_part,
    read_raw,
)
from recommender.validate import (
    check_part,
    empty_table,
    merge_problems,
    read_tables,
    validate_frames,
)

logger = logging.getLogger(__name__)

ROW = "__row__"  # (part, row in part) as one number: the file order, restored after a shuffle
ROW_STRIDE = 1 << 40  # rows per part at most


@dataclasses.dataclass(frozen=True)
class PostsSource:
    """Where the posts are: a table folder's parts, or one file read by one worker."""

    location: str | Path
    parts: tuple[str, ...]  # as parquet_parts lists them; () for a single file

    def __len__(self) -> int:
        return max(1, len(self.parts))

    def name(self, k: int) -> str:
        return str(part_name(self.location, self.parts[k]) if self.parts else self.location)

    def read(self, k: int) -> pd.DataFrame:
        if not self.parts:
            return read_raw(self.location)
        return read_part(self.location, self.parts[k]).to_pandas()


@dataclasses.dataclass(frozen=True)
class PartCheck:
    """What checking one part of the posts found."""

    problems: tuple[Problem, ...]
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None


def load_small_tables(data_dir: str | Path) -> tuple[Dataset, PostsSource]:
    """The data folder's small tables, validated, with empty posts; and where the posts are."""
    data_dir = location(data_dir)
    frames, files, shadowed = read_tables(data_dir, skip=("posts",))
    path = location(files["posts"]) if "posts" in files else None
    if path is None:
        raise ValidationError([Problem.fatal_at("posts", f"{data_dir}/posts",
                                                "required table is missing")])
    try:
        parts = tuple(parquet_parts(path)) if is_folder(path) else ()
    except ReadError as exc:
        raise ValidationError([Problem.fatal_at("posts", str(exc.path), exc.reason)]) from exc
    ds = validate_frames(frames, files, source=data_dir, deferred=("posts",), notes=shadowed)
    return ds, PostsSource(path, parts)


def _typed(source: PostsSource, k: int, influencer_ids: pd.Series
           ) -> tuple[pd.DataFrame, list[Problem]]:
    try:
        raw = source.read(k)
    except ReadError as exc:
        return pd.DataFrame(), [Problem.fatal_at("posts", str(exc.path), exc.reason)]
    return check_part("posts", raw, source.name(k),
                      {"influencers.influencer_id": influencer_ids})


def check_posts_part(source: PostsSource, k: int, influencer_ids: pd.Series) -> PartCheck:
    """Part `k` of the posts checked against the contract (runs on a worker)."""
    posts, problems = _typed(source, k, influencer_ids)
    stamps = posts["posted_at"] if len(posts) else pd.Series(dtype="datetime64[ns, UTC]")
    return PartCheck(tuple(problems), len(posts), stamps.min() if len(stamps) else None,
                     stamps.max() if len(stamps) else None)


def typed_posts_part(source: PostsSource, k: int, influencer_ids: pd.Series) -> pd.DataFrame:
    """Part `k` of the posts, typed, with its file order in ROW (runs on a worker)."""
    posts, _ = _typed(source, k, influencer_ids)
    return posts.assign(**{ROW: np.arange(len(posts), dtype=np.int64) + k * ROW_STRIDE})


def side_of_partition(posts: pd.DataFrame, ds: Dataset, context: PairContext,
                      catalogue: pd.Index, as_of: pd.Timestamp) -> pd.DataFrame:
    """Influencer features, as of `as_of`, of the catalogue's influencers whose posts are all
    in `posts` (one partition after the shuffle by influencer)."""
    posts = posts.sort_values(ROW, kind="stable").drop(columns=ROW).reset_index(drop=True)
    ids = catalogue.intersection(pd.Index(posts["influencer_id"].unique()), sort=False)
    ids = catalogue[np.sort(catalogue.get_indexer(ids))]  # catalogue order
    part = dataclasses.replace(ds, posts=posts)
    return influencer_features(part, pd.DataFrame({"influencer_id": np.asarray(ids),
                                                   "as_of": as_of}), context)


def validate_posts(client, ds: Dataset, source: PostsSource) -> tuple[int, pd.Timestamp | None,
                                                                     pd.Timestamp | None]:
    """Check every part of the posts on the workers, and post_id across parts; raise
    ValidationError listing every broken rule. Returns (rows, first, last posted_at)."""
    ids = client.scatter(ds.influencers["influencer_id"], broadcast=True, hash=False)
    remote = client.scatter(source, broadcast=True, hash=False)
    checks = client.gather(client.map(check_posts_part, [remote] * len(source),
                                      range(len(source)), [ids] * len(source), pure=False))
    problems = merge_problems([p for c in checks for p in c.problems], str(source.location))
    if not any(p.fatal for p in problems) and len(source) > 1:
        problems += _duplicates_across_parts(client, source, ids)
    if problems:
        raise ValidationError(problems)
    stamps = [c for c in checks if c.rows]
    return (sum(c.rows for c in checks), min((c.first for c in stamps), default=None),
            max((c.last for c in stamps), default=None))


def _duplicates_across_parts(client, source: PostsSource, ids: Any) -> list[Problem]:
    """post_id must be unique over the whole table, not only within a part: a shuffle by
    post_id brings the copies of an id together; only the repeated ids come back."""
    posts = _posts_frame(source, ids)[["post_id"]]
    repeated = posts.shuffle("post_id").map_partitions(
        lambda d: d[d["post_id"].duplicated(keep=False)], meta=posts._meta).compute()
    if not len(repeated):
        return []
    first = tuple(f"'{v}'" for v in sorted(repeated["post_id"].unique())[:5])
    return [Problem("posts", str(source.location), "post_id", "unique", len(repeated), first)]


def _posts_frame(source: PostsSource, ids: Any):
    """The typed posts as a Dask DataFrame of one partition per part (read by the workers)."""
    import dask.dataframe as dd

    meta = empty_table("posts").assign(**{ROW: np.zeros(0, np.int64)})
    return dd.from_map(typed_posts_part, [source] * len(source), range(len(source)),
                       [ids] * len(source), meta=meta, enforce_metadata=False)


def influencer_side_on_cluster(client, ds: Dataset, source: PostsSource, context: PairContext,
                               catalogue: np.ndarray, as_of: pd.Timestamp) -> pd.DataFrame:
    """The influencer side of `catalogue` as of `as_of`, computed by the workers where the
    posts are (see the module docstring), in catalogue order."""
    ids = client.scatter(ds.influencers["influencer_id"], broadcast=True, hash=False)
    index = pd.Index(catalogue)
    # the workers need only the influencers (the lookups are in the context)
    slim = dataclasses.replace(ds, **{name: ds.table(name).iloc[:0] for name in (
        "audience", "brand_audience", "collaborations", "brands")})
    posts = _posts_frame(source, ids).shuffle("influencer_id")
    meta = side_of_partition(posts._meta, slim, context, index[:0], as_of)
    side = posts.map_partitions(side_of_partition, slim, context, index, as_of,
                                meta=meta).compute()
    side = side.set_index(pd.Index(side["influencer_id"])).reindex(index)
    missing = side["influencer_id"].isna().to_numpy()
    if missing.any():  # influencers without a single post: no partition holds them
        alone = influencer_features(ds, pd.DataFrame({"influencer_id": catalogue[missing],
                                                      "as_of": as_of}), context)
        side = pd.concat([side[~missing], alone.set_index(pd.Index(alone["influencer_id"]))]
                         ).reindex(index)
    logger.info("influencer side of %d candidates computed on %d partitions of the posts",
                len(index), posts.npartitions)
    return side.reset_index(drop=True)
