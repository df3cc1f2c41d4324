"""Influencer attributes as of an instant: the row valid then when the data dates them.

Data contract version 2 lets `influencers` carry `valid_from`: a row holds from that instant
until the next row of the same influencer. A feature as of `as_of` then reads the row with the
last `valid_from` strictly before `as_of` (a blank valid_from holds from the beginning); where
no row is valid yet, the earliest row is used and that is said once. Without `valid_from`
the single row per influencer is a snapshot used for every as_of (version 1).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from recommender.features.timeline import Timeline, encode, to_ns

logger = logging.getLogger(__name__)

DATED_COLUMNS = ("followers", "real_follower_share", "price_per_post", "country")
_BEGINNING = np.iinfo(np.int64).min + 1  # a blank valid_from: valid from the beginning
_said: set[str] = set()


def split_dated(influencers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(one current row per influencer, the dated history or None) of a validated table.

    The current row is the one with the latest valid_from (what a planner sees today), in the
    order each influencer first appears; the history is every row, sorted by influencer and
    valid_from. A table without valid_from values is returned as is, with no history."""
    if "valid_from" not in influencers or influencers["valid_from"].isna().all():
        return influencers, None
    key = influencers["valid_from"].fillna(pd.Timestamp.min.tz_localize("UTC"))
    history = (influencers.assign(_key=key)
               .sort_values(["influencer_id", "_key"], kind="stable").drop(columns="_key"))
    current = history.drop_duplicates("influencer_id", keep="last").set_index("influencer_id")
    first_seen = pd.unique(influencers["influencer_id"])
    current = current.loc[first_seen].reset_index()[list(influencers.columns)]
    return current, history.reset_index(drop=True)


def attributes_as_of(ds, codes: np.ndarray, as_of_ns: np.ndarray) -> dict[str, np.ndarray]:
    """DATED_COLUMNS of influencers `codes` (rows of ds.influencers) as of each as_of: from
    the dated history where the data has one, else the snapshot row."""
    inf = ds.influencers
    history = getattr(ds, "influencer_history", None)
    if history is None:
        return {"followers": inf["followers"].to_numpy(np.float64)[codes],
                "real_follower_share": inf["real_follower_share"].to_numpy(np.float64)[codes],
                "price_per_post": inf["price_per_post"].to_numpy(np.float64)[codes],
                "country": inf["country"].take(codes).to_numpy()}
    index = pd.Index(inf["influencer_id"])
    h_codes = encode(history["influencer_id"], index)
    valid = history["valid_from"]
    times = np.full(len(history), _BEGINNING, dtype=np.int64)
    times[valid.notna().to_numpy()] = to_ns(valid[valid.notna()])
    tl = Timeline.build(h_codes, times, len(index))
    start, stop = tl.group_bounds(codes)
    first_after = tl.first_not_before(start, stop, as_of_ns)
    not_yet = first_after == start
    row = np.where(not_yet, start, first_after - 1)
    source = tl.sort_order[row] if tl.sort_order is not None else row
    if not_yet.any():
        _say_not_yet_once(ds, pd.Series(inf["influencer_id"].to_numpy()[codes[not_yet]]))
    return {"followers": history["followers"].to_numpy(np.float64)[source],
            "real_follower_share": history["real_follower_share"].to_numpy(np.float64)[source],
            "price_per_post": history["price_per_post"].to_numpy(np.float64)[source],
            "country": history["country"].take(source).to_numpy()}


def _say_not_yet_once(ds, ids: pd.Series) -> None:
    key = str(getattr(ds, "source", None))
    if key in _said:
        return
    _said.add(key)
    logger.warning("influencers: %d influencer(s) have no row valid before an as_of asked for "
                   "(e.g. %s); their earliest row is used there", ids.nunique(),
                   ", ".join(ids.unique()[:3]))
