"""Read-only views of the ranker's data snapshot that the page shows beside each score."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from recommender.features.engagement import post_history
from recommender.features.timeline import DAY_NS, to_ns

logger = logging.getLogger(__name__)

SPARK_WEEKS = 12
RECENT_WEEKS = 4  # the trend compares these last weeks with the weeks before them

Shares = dict[str, dict[str, float]]  # dimension -> segment -> share


def weekly_engagement(ds, influencer_ids: Sequence[str], as_of: pd.Timestamp,
                      weeks: int = SPARK_WEEKS) -> dict[str, list[float]]:
    """Mean engagement rate per week over the `weeks` weeks strictly before `as_of`.

    The rate is the feature's own per-post rate (recommender.features.engagement); a week
    without a post is NaN (a gap in the sparkline). Oldest week first.
    """
    ids = pd.Index(pd.unique(pd.Series(list(influencer_ids), dtype="str")))
    infl = ds.influencers[ds.influencers["influencer_id"].isin(ids)].reset_index(drop=True)
    posts = ds.posts[ds.posts["influencer_id"].isin(ids)]
    out = {i: [math.nan] * weeks for i in ids}
    if not len(posts):
        return out
    ph = post_history(posts, infl)
    tl = ph.timeline
    end = to_ns([as_of])[0]
    age_weeks = (end - tl.times) // (7 * DAY_NS)  # 0 = the week just before as_of
    keep = (tl.times < end) & (age_weeks < weeks) & ~np.isnan(ph.er)
    frame = pd.DataFrame({"code": tl.codes[keep], "bin": weeks - 1 - age_weeks[keep],
                          "er": ph.er[keep]})
    means = frame.groupby(["code", "bin"])["er"].mean()
    names = infl["influencer_id"].to_numpy()
    for (code, b), er in means.items():
        out[names[code]][int(b)] = float(er)
    return out


def trend(series: Sequence[float], recent: int = RECENT_WEEKS) -> float:
    """Relative change of the mean of the last `recent` weeks over the weeks before them
    (NaN when either part has no known value or the earlier mean is 0)."""
    a = np.asarray(series, dtype=np.float64)
    before, last = a[:-recent], a[-recent:]
    if np.isnan(before).all() or np.isnan(last).all():
        return math.nan
    base = np.nanmean(before)
    return float(np.nanmean(last) / base - 1.0) if base > 0 else math.nan


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


def brand_lookup(choices: pd.DataFrame) -> dict[str, str]:
    """Lower-cased brand id, label and name -> brand id (a name shared by brands is left out)."""
    out: dict[str, str] = {}
    names = choices["label"].str.replace(r"\s*\([^()]*\)$", "", regex=True).str.lower()
    dup = set(names[names.duplicated(keep=False)])
    for bid, label, name in zip(choices["brand_id"], choices["label"], names, strict=True):
        if name not in dup:
            out[name] = bid
        out[label.lower()] = bid
    for bid in choices["brand_id"]:
        out[bid.lower()] = bid
    return out


def model_label(model_uri: str) -> str:
    """'name version N (alias)' for a registry URI; the URI itself when it cannot be resolved."""
    if not model_uri.startswith("models:/"):
        return model_uri
    rest = model_uri[len("models:/"):]
    try:
        from mlflow import MlflowClient

        client = MlflowClient()
        if "@" in rest:
            name, alias = rest.split("@", 1)
            mv = client.get_model_version_by_alias(name, alias)
            return f"{name} version {mv.version} ({alias})"
        name, _, version = rest.partition("/")
        if version.isdigit():
            return f"{name} version {version}"
    except Exception as exc:  # noqa: BLE001 - a label never stops the page
        logger.info("model version of %s not resolved: %s", model_uri, exc)
    return model_uri
