"""The synthetic world generator: every table of the data contract plus its truth file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recommender.io import PARQUET_PART, staging_dir, write_parquet_atomic
from recommender.progress import progress_enabled
from recommender.world import params as P
from recommender.world.activity import Clock, organic_schedule, post_engagement
from recommender.world.audience import Shares, to_long
from recommender.world.brands import brands_frame, make_brands
from recommender.world.catalogue import CATALOGUE_BRANDS, catalogue_truth, sample_brands
from recommender.world.collaborations import World, simulate_collaborations
from recommender.world.population import influencers_frame, make_population
from recommender.world.stories import DEFAULT_STORY, STORIES, get_story

logger = logging.getLogger(__name__)

TABLE_NAMES = ("influencers", "audience", "posts", "brands", "brand_audience",
               "collaborations", "truth", "truth_catalogue")

# contract v2's optional columns a default world leaves out (dated attributes and planners'
# handles have switches or none; outcomes settle at once, so settled_at is not written)
UNWRITTEN_COLUMNS = frozenset({"settled_at", "valid_from", "handle", "profile_url"})

__all__ = ["UNWRITTEN_COLUMNS", "STORIES", "TABLE_NAMES", "generate_world", "make_ids"]


def make_ids(prefix: str, n: int, start: int = 0, width: int | None = None) -> pd.Series:
    """`n` string ids `prefix` + zero-padded number from `start`, e.g. i00042 (vectorised in
    Arrow); the width fits `n` numbers unless given."""
    width = width or max(len(str(max(n - 1, 0))), 1)
    numbers = np.arange(start, start + n, dtype=np.int64)
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    return pd.Series(pd.array(pc.binary_join_element_wise(prefix, digits, ""), dtype="str"))


def _timestamps(seconds: np.ndarray) -> pd.Series:
    """Integer UTC seconds as tz-aware nanosecond timestamps."""
    return pd.Series(pd.DatetimeIndex(seconds.astype("datetime64[s]").astype("datetime64[ns]"),
                                      tz="UTC"))


def _posts_frame(rng: np.random.Generator, w: World, collabs: dict[str, np.ndarray],
                 inf_ids: pd.Series, brand_ids: pd.Series, members: np.ndarray | None = None,
                 first_post: int = 0, id_width: int | None = None) -> pd.DataFrame:
    """Organic posts plus one sponsored post per collaboration at exactly its start (of the
    influencers `members` only when given, whose collaborations `collabs` then holds; post
    ids numbered from `first_post`)."""
    org_idx, org_t = organic_schedule(rng, w.pop, w.clock, members)
    conv = collabs["conversions"]
    sponsored_boost = (np.log(P.SPONSORED_ER_FACTOR) + P.CONVERTED_ER_BOOST * (conv > 0)
                       + 0.1 * np.log1p(np.maximum(conv - 1, 0)))
    idx = np.concatenate([org_idx, collabs["influencer"]])
    t = np.concatenate([org_t, collabs["started_at"]])
    brand = np.concatenate([np.full(len(org_idx), -1), collabs["brand"]])
    boost = np.concatenate([np.zeros(len(org_idx)), sponsored_boost])
    order = np.lexsort((brand, t, idx))
    idx, t, brand, boost = idx[order], t[order], brand[order], boost[order]
    eng = post_engagement(rng, w.pop, w.clock, idx, t, boost)
    sponsored = brand >= 0
    brand_col = pd.Series(pd.array(pc.take(pa.array(brand_ids.array),
                                           pa.array(np.where(sponsored, brand, 0))), dtype="str"))
    return pd.DataFrame({
        "post_id": make_ids("p", len(idx), first_post, id_width),
        "influencer_id": pd.Series(pd.array(pc.take(pa.array(inf_ids.array), pa.array(idx)),
                                            dtype="str")),
        "posted_at": _timestamps(t),
        "likes": eng["likes"],
        "comments": eng["comments"],
        "views": pd.array(eng["views"], dtype="Int64"),
        "followers_at_post": eng["followers_at_post"],
        "sponsored": sponsored,
        "brand_id": brand_col.where(sponsored),
    })


def generate_world(out_dir: Path, n_influencers: int = 5000, n_brands: int = 200,
                   months: int = 18, seed: int = 7, progress: bool = False,
                   story: str = DEFAULT_STORY, catalogue_brands: int = CATALOGUE_BRANDS,
                   parts: int = 1) -> dict[str, Path]:
    """Write a synthetic world (contract tables + truth.parquet + truth_catalogue.parquet)
    into `out_dir`, told by `story` (world.stories.STORIES).

    The world spans `months` months ending 2026-06-30 (UTC). Brands book about 4.5
    collaborations a month each (at most 0.5 per influencer a month overall); each booking
    has its sponsored post in posts at exactly started_at. The same arguments give
    byte-identical files; the contract tables and truth.parquet do not depend on
    `catalogue_brands` (the brands of truth_catalogue.parquet are drawn from a stream of
    their own). With `parts` > 1, posts and audience are written as folders of
    `parts` Parquet files (one range of influencers each, generated one at a time, so memory
    is bounded by a part, not the world); the other tables are the same as with one part, the
    posts are drawn per part (another, equally distributed, history). Returns {table: path}.
    """
    for name, value, least in (("n_influencers", n_influencers, 1), ("n_brands", n_brands, 1),
                               ("months", months, 1), ("parts", parts, 1)):
        if int(value) < least:
            raise ValueError(f"{name} must be at least {least}, got {value}")
    tale = get_story(story)
    from rich.progress import Progress

    out_dir = Path(out_dir)
    # spawn(n) gives the same first children for any n: a new stream leaves the others alone
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]
    clock = Clock.ending_at(P.WORLD_END, months)
    paths: dict[str, Path] = {}
    with Progress(disable=not (progress and progress_enabled()), transient=True) as bar:
        task = bar.add_task("generating world", total=6 + (parts if parts > 1 else 0))
        pop = make_population(rngs[0], n_influencers, months, clock.start, clock.end)
        brands = make_brands(rngs[1], n_brands)
        w = World(pop=pop, brands=brands, clock=clock, fit=P.fit_matrix(), story=tale)
        inf_ids, brand_ids = make_ids("i", n_influencers), make_ids("b", n_brands)
        bar.advance(task)
        collabs = simulate_collaborations(rngs[2], w)
        collab_ids = make_ids("c", len(collabs["influencer"]))
        bar.advance(task)
        frames = {
            "influencers": influencers_frame(pop, inf_ids),
            "brands": brands_frame(brands, brand_ids),
            "brand_audience": to_long(brands.target, brand_ids, "brand_id"),
            "collaborations": pd.DataFrame({
                "collaboration_id": collab_ids,
                "brand_id": brand_ids.take(collabs["brand"]).reset_index(drop=True),
                "influencer_id": inf_ids.take(collabs["influencer"]).reset_index(drop=True),
                "started_at": _timestamps(collabs["started_at"]),
                "fee": collabs["fee"].astype(np.float64),
                "clicks": collabs["clicks"],
                "conversions": collabs["conversions"],
            }),
            "truth": pd.DataFrame({"collaboration_id": collab_ids,
                                   "p_true": collabs["p_true"].astype(np.float64)}
                                  | {k: v for k, v in collabs.items() if k.startswith("logit_")}),
        }
        frames["truth_catalogue"] = catalogue_truth(
            w, sample_brands(rngs[4], n_brands, catalogue_brands), clock.end, inf_ids, brand_ids)
        bar.advance(task)
        if parts == 1:
            frames["audience"] = to_long(pop.audience, inf_ids, "influencer_id")
            frames["posts"] = _posts_frame(rngs[3], w, collabs, inf_ids, brand_ids)
        bar.advance(task)
        with staging_dir(out_dir) as stage:  # a killed run leaves no half-written world
            for name in TABLE_NAMES:
                if name in frames:
                    write_parquet_atomic(frames.pop(name), stage / f"{name}.parquet")
                    paths[name] = out_dir / f"{name}.parquet"
            if parts > 1:
                seq = np.random.SeedSequence(seed, spawn_key=(PARTS_STREAM,))
                for _ in _write_parts(stage, seq, w, collabs, inf_ids, brand_ids, parts):
                    bar.advance(task)
                paths |= {name: out_dir / name for name in PARTED_TABLES}
            bar.advance(task)
        bar.advance(task)
    logger.info("world of %d influencers, %d brands, %d collaborations written to %s",
                n_influencers, n_brands, len(collab_ids), out_dir)
    return paths


PARTED_TABLES = ("posts", "audience")  # the tables written as folders by generate --parts
PARTS_STREAM = 1013  # spawn key of the random stream of a parted world's posts
PARTED_ID_WIDTH = 12  # post ids of a parted world: p + 12 digits, whatever its size


def _write_parts(stage: Path, seq: np.random.SeedSequence, w: World,
                 collabs: dict[str, np.ndarray], inf_ids: pd.Series, brand_ids: pd.Series,
                 parts: int) -> Iterator[int]:
    """Write posts/ and audience/ into `stage` as `parts` Parquet files each, one contiguous
    range of influencers per file, one range in memory at a time; yields each part's number."""
    bounds = np.linspace(0, len(w.pop), parts + 1).astype(np.int64)
    for name in PARTED_TABLES:
        (stage / name).mkdir()
    first_post = 0
    for k, rng in enumerate(np.random.default_rng(s) for s in seq.spawn(parts)):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        mine = (collabs["influencer"] >= lo) & (collabs["influencer"] < hi)
        posts = _posts_frame(rng, w, {key: v[mine] for key, v in collabs.items()}, inf_ids,
                             brand_ids, np.arange(lo, hi, dtype=np.int64), first_post,
                             PARTED_ID_WIDTH)
        first_post += len(posts)
        write_parquet_atomic(posts, stage / "posts" / PARQUET_PART.format(k))
        del posts
        a = w.pop.audience
        shares = Shares(age=a.age[lo:hi], gender=a.gender[lo:hi], country=a.country[lo:hi])
        write_parquet_atomic(to_long(shares, inf_ids.iloc[lo:hi].reset_index(drop=True),
                                     "influencer_id"), stage / "audience" / PARQUET_PART.format(k))
        yield k
