"""Read-only views of the ranker's snapshot (and the posts of a data folder) for the page."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recommender.contract import NICHES
from recommender.features.engagement import post_history
from recommender.features.timeline import DAY_NS, to_ns

logger = logging.getLogger(__name__)

SPARK_WEEKS = 12

Shares = dict[str, dict[str, float]]  # dimension -> segment -> share


def weekly_engagement(posts: pd.DataFrame, influencers: pd.DataFrame, as_of: pd.Timestamp,
                      weeks: int = SPARK_WEEKS) -> pd.DataFrame:
    """Mean engagement rate per week over the `weeks` weeks strictly before `as_of`.

    One row per influencer that posted in those weeks (index influencer_id), columns 0 (the
    oldest week) to weeks - 1 (the week just before as_of); a week without a post is NaN.
    The rate is the engagement features' own per-post rate (features.engagement.post_history).
    """
    end = to_ns([as_of])[0]
    t = to_ns(posts["posted_at"]) if len(posts) else np.zeros(0, np.int64)
    recent = posts[(t < end) & (t >= end - weeks * 7 * DAY_NS)]
    infl = influencers[influencers["influencer_id"].isin(recent["influencer_id"])]
    infl = infl.reset_index(drop=True)
    empty = pd.DataFrame(columns=range(weeks), dtype=np.float64,
                         index=pd.Index([], name="influencer_id", dtype="str"))
    if not len(recent):
        return empty
    ph = post_history(recent, infl)
    tl = ph.timeline
    keep = ~np.isnan(ph.er)
    frame = pd.DataFrame({
        "influencer_id": infl["influencer_id"].to_numpy()[tl.codes[keep]],
        "week": weeks - 1 - (end - tl.times[keep]) // (7 * DAY_NS), "er": ph.er[keep]})
    wide = frame.groupby(["influencer_id", "week"])["er"].mean().unstack("week")
    return wide.reindex(columns=range(weeks)).astype(np.float64)


def series_of(table: pd.DataFrame, influencer_ids: Sequence[str]) -> dict[str, list[float]]:
    """Each influencer's weekly series from a `weekly_engagement` table (all NaN if absent)."""
    rows = table.reindex(pd.Index(list(influencer_ids), dtype="str"))
    return {str(i): [float(x) for x in r] for i, r in zip(rows.index, rows.to_numpy(),
                                                            strict=True)}


def _nested(long: pd.DataFrame, key: str) -> dict[str, Shares]:
    out: dict[str, Shares] = {}
    for k, dim, seg, share in long[[key, "dimension", "segment", "share"]].itertuples(
            index=False):
        out.setdefault(str(k), {}).setdefault(str(dim), {})[str(seg)] = float(share)
    return out


def audience_shares(ds, influencer_ids: Sequence[str]) -> dict[str, Shares]:
    """Each influencer's audience shares by dimension and segment (absent: not described)."""
    aud = ds.audience
    return _nested(aud[aud["influencer_id"].isin(list(influencer_ids))], "influencer_id")


def brand_targets(ds, brand_id: str) -> Shares:
    """The target audience shares of a brand in the data ({} when it has none)."""
    ba = ds.brand_audience
    return _nested(ba[ba["brand_id"] == brand_id], "brand_id").get(str(brand_id), {})


def brand_choices(ds) -> pd.DataFrame:
    """brand_id, label ('Name (id)' or the id), category, country: sorted by label."""
    b = ds.brands
    name = b["name"].astype("str").where(b["name"].notna(), None)
    label = [f"{n} ({i})" if n else str(i) for n, i in zip(name, b["brand_id"], strict=True)]
    out = pd.DataFrame({"brand_id": b["brand_id"].astype("str").to_numpy(), "label": label,
                        "category": b["category"].to_numpy(), "country": b["country"].to_numpy()})
    return out.sort_values("label", key=lambda s: s.str.lower()).reset_index(drop=True)


def brand_lookup(choices: pd.DataFrame) -> dict[str, str | tuple[str, ...]]:
    """Lower-cased brand id, label and name -> brand id; a name shared by several brands ->
    the tuple of their ids (the page asks which one is meant)."""
    out: dict[str, str | tuple[str, ...]] = {}
    names = choices["label"].str.replace(r"\s*\([^()]*\)$", "", regex=True).str.lower()
    shared = choices.groupby(names.to_numpy())["brand_id"].agg(tuple)
    for bid, label, name in zip(choices["brand_id"], choices["label"], names, strict=True):
        ids = shared[name]
        out[name] = bid if len(ids) == 1 else tuple(sorted(ids))
        out[label.lower()] = bid
    for bid in choices["brand_id"]:
        out[bid.lower()] = bid
    return out


@dataclass(frozen=True)
class PageData:
    """What the page reads besides the ranker's output, built once when it starts."""

    ds: object  # the ranker's snapshot tables (a recommender.validate.Dataset)
    as_of: pd.Timestamp
    er_trend: pd.Series  # engagement trend feature by influencer_id (90 days / year before)
    weekly: pd.DataFrame  # weekly_engagement of the posts (empty without a data folder)
    weekly_note: str  # why there are no sparklines, when there are none
    brands: pd.DataFrame  # brand_choices
    lookup: dict[str, str | tuple[str, ...]]
    niches: list[str]
    categories: list[str]


def _weekly_from(data_dir: Path | None, ds, as_of: pd.Timestamp) -> tuple[pd.DataFrame, str]:
    """Weekly engagement from the posts of `data_dir` when they describe the snapshot's
    influencers up to its as_of; otherwise an empty table and the reason."""
    empty = weekly_engagement(ds.posts.iloc[:0], ds.influencers, as_of)
    if data_dir is None:
        return empty, "no data folder given: engagement history not shown"
    from recommender.io import ReadError
    from recommender.validate import ValidationError, load_dataset

    try:
        data = load_dataset(data_dir)
    except (ValidationError, ReadError, OSError) as exc:
        logger.warning("engagement history not shown: %s: %s", data_dir,
                       str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return empty, f"engagement history not shown: {data_dir} cannot be read"
    known = data.influencers["influencer_id"].isin(ds.influencers["influencer_id"])
    if known.mean() < 0.9 or data.latest_timestamp < as_of:
        logger.warning("engagement history not shown: %s does not hold the data of the "
                       "model's snapshot (as of %s)", data_dir, as_of)
        return empty, f"engagement history not shown: {data_dir} is not the model's data"
    return weekly_engagement(data.posts, data.influencers, as_of), ""


def page_data(ranker, data_dir: Path | None = None) -> PageData:
    """Read the ranker's snapshot once: brands, niches, trends; sparklines from `data_dir`."""
    snap = ranker.snapshot
    ds, as_of = snap.ds, pd.Timestamp(ranker.as_of)
    side = snap.influencer_side
    trend = pd.Series(side["er_trend"].to_numpy(np.float64),
                      index=pd.Index(side["influencer_id"].astype("str")))
    weekly, note = _weekly_from(data_dir, ds, as_of)
    brands = brand_choices(ds)
    niches = sorted(set(ds.influencers["niche"].dropna().astype("str")))
    categories = sorted(set(ds.brands["category"].dropna().astype("str")) | set(NICHES))
    return PageData(ds, as_of, trend, weekly, note, brands, brand_lookup(brands), niches,
                    categories)
