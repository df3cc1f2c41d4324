"""Dated influencer attributes for a generated world: the influencers table rewritten as
quarterly rows (`valid_from`, contract version 2) whose followers, price and real-follower
share drift towards today's values.

The generator's influencers table is a snapshot of the world's end. Real data collected over
time is not: this writes, for each influencer, one row per quarter since its first post, with
the follower count of its last post before that quarter (followers_at_post), a price that keeps
today's price per follower, and a real-follower share that drifts (audience quality changes),
ending with the snapshot row itself. Features read it as of each pair's as_of
(`recommender.features.attributes`), so training no longer sees today's price for past
bookings.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from recommender.io import write_parquet_atomic

QUARTER = pd.Timedelta(days=91)
SHARE_DRIFT = 0.03  # standard deviation of the real-follower share's change per quarter


def dated_influencers(influencers: pd.DataFrame, posts: pd.DataFrame, seed: int = 0
                      ) -> pd.DataFrame:
    """Quarterly rows of `influencers` (with valid_from) drifting to the snapshot values,
    which hold from the last quarter on; influencers without posts keep one undated row."""
    rng = np.random.default_rng(seed)
    posts = posts[["influencer_id", "posted_at", "followers_at_post"]].dropna()
    posts = posts.sort_values(["influencer_id", "posted_at"], kind="stable")
    start = posts["posted_at"].min()
    end = posts["posted_at"].max()
    quarters = pd.date_range(start, end, freq=QUARTER)
    rows = [influencers.assign(valid_from=pd.Series(pd.NaT, index=influencers.index,
                                                    dtype="datetime64[ns, UTC]"))]
    by_id = influencers.set_index("influencer_id")
    for i, t in enumerate(quarters[::-1][1:]):  # newest first, after the snapshot quarter
        before = posts[posts["posted_at"] < t].drop_duplicates("influencer_id", keep="last")
        if before.empty:
            continue
        then = by_id.loc[before["influencer_id"]].reset_index()
        ratio = (before["followers_at_post"].to_numpy(np.float64)
                 / np.maximum(then["followers"].to_numpy(np.float64), 1.0))
        drift = rng.normal(0.0, SHARE_DRIFT * np.sqrt(i + 1), len(then))
        past_share = np.clip(then["real_follower_share"].to_numpy(np.float64) + drift, 0, 1)
        rows.append(then.assign(
            followers=before["followers_at_post"].to_numpy(np.int64),
            price_per_post=np.round(then["price_per_post"].to_numpy(np.float64) * ratio, 2),
            real_follower_share=past_share, valid_from=t))
    out = pd.concat(rows, ignore_index=True)
    # the snapshot row holds from the latest quarter; the oldest row of each from the start
    latest = pd.Series(quarters[-1], index=out.index)
    out["valid_from"] = out["valid_from"].where(out["valid_from"].notna(), latest)
    first = out.groupby("influencer_id")["valid_from"].transform("min")
    out.loc[out["valid_from"] == first, "valid_from"] = pd.NaT
    return out.sort_values(["influencer_id", "valid_from"], na_position="first",
                           kind="stable", ignore_index=True)


def write_dated_attributes(world_dir: Path | str, seed: int = 0) -> Path:
    """Rewrite `world_dir`/influencers.parquet as dated rows (see `dated_influencers`)."""
    folder = Path(world_dir)
    path = folder / "influencers.parquet"
    posts = pd.read_parquet(folder / "posts.parquet") if (folder / "posts.parquet").exists() \
        else pd.read_parquet(folder / "posts")
    write_parquet_atomic(dated_influencers(pd.read_parquet(path), posts, seed), path)
    return path
