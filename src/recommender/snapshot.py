"""The ranker's snapshot: what serving needs of the data as of one instant, as Parquet + JSON.

A snapshot holds the tables pair features read (influencers, audience, brands, brand_audience
and the collaborations started strictly before as_of; never posts), the influencer side of
every influencer as of the snapshot (posts summarised into features), the fitted first stage
and snapshot.json (as_of, created_at, row counts).

The default as_of is the data's latest timestamp: the same default "now" as batch scoring
and feature export, so a ranked pair gets exactly the score `recommender score` gives it.
The price is that events at exactly that last instant are not counted (as_of is strict).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from recommender.coerce import utc_timestamp
from recommender.dataset import Dataset
from recommender.errors import UserError
from recommender.features import brand_profiles, influencer_features, pair_context
from recommender.io import atomic_path, write_parquet_atomic
from recommender.shortlist import fit_shortlist, inline_twins, sample_pairs

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
META_FILE = "snapshot.json"
SHORTLIST_FILE = "first_stage.json"
INFLUENCER_SIDE = "influencer_features"
TABLES = ("influencers", "audience", "brands", "brand_audience", "collaborations")
POSTS_COLUMNS = {"post_id": "str", "influencer_id": "str", "posted_at": "datetime64[ns, UTC]",
                 "likes": "int64", "comments": "int64", "views": "float64",
                 "followers_at_post": "float64", "sponsored": "bool", "brand_id": "str"}


def build_snapshot(ds: Dataset, model, as_of: pd.Timestamp | str | None = None, *,
                   out_dir: Path | str) -> Path:
    """Write the snapshot of `ds` as of `as_of` (default: ds.latest_timestamp) into `out_dir`.

    `model` (a fitted ConversionModel) is needed to fit the first stage to it.
    snapshot.json is written last: a folder without it is an incomplete snapshot.
    """
    out = Path(out_dir)
    as_of = utc_timestamp(ds.latest_timestamp if as_of is None else as_of)
    collabs = ds.collaborations[ds.collaborations["started_at"] < as_of]
    tables = {"influencers": ds.influencers, "audience": ds.audience, "brands": ds.brands,
              "brand_audience": ds.brand_audience, "collaborations": collabs}
    snap_ds = _dataset(tables, ds.present)
    ctx = pair_context(snap_ds)
    keys = pd.DataFrame({"influencer_id": ds.influencers["influencer_id"], "as_of": as_of})
    # the snapshot's context answers every lookup strictly before as_of like the full data's
    inf_side = influencer_features(ds, keys, ctx)
    brand_side = brand_profiles(snap_ds, pd.DataFrame({"brand_id": ds.brands["brand_id"],
                                                       "as_of": as_of}), ctx)
    brand_side = pd.concat([brand_side, inline_twins(brand_side, ctx)], ignore_index=True)
    shortlist = fit_shortlist(model, inf_side, brand_side, ctx, sample_pairs(inf_side, brand_side))
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_parquet_atomic(frame.reset_index(drop=True), out / f"{name}.parquet")
    write_parquet_atomic(inf_side, out / f"{INFLUENCER_SIDE}.parquet")
    with atomic_path(out / SHORTLIST_FILE) as tmp:
        tmp.write_text(json.dumps(shortlist), encoding="utf-8")
    meta = {
        "format_version": FORMAT_VERSION,
        "as_of": as_of.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "row_counts": {name: int(len(frame)) for name, frame in tables.items()},
        "present": {name: sorted(cols) for name, cols in ds.present.items()},
        "first_stage_fit": shortlist["fit"],
    }
    with atomic_path(out / META_FILE) as tmp:
        tmp.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    logger.info("snapshot as of %s: %d influencers, %d brands, %d collaborations -> %s",
                as_of, len(ds.influencers), len(ds.brands), len(collabs), out)
    return out


def _dataset(tables: dict[str, pd.DataFrame], present: dict[str, Any]) -> Dataset:
    """A Dataset of snapshot tables (posts empty: their summary is the influencer side)."""
    posts = pd.DataFrame({c: pd.Series(dtype=t) for c, t in POSTS_COLUMNS.items()})
    return Dataset(posts=posts, present={k: frozenset(v) for k, v in present.items()}, **tables)


@dataclass(frozen=True)
class Snapshot:
    """A snapshot read back: its tables as a Dataset, the influencer side, the first stage."""

    as_of: pd.Timestamp
    meta: dict[str, Any]
    ds: Dataset
    influencer_side: pd.DataFrame
    shortlist: dict[str, Any]


def load_meta(directory: Path | str) -> dict[str, Any]:
    """snapshot.json of a snapshot folder (as_of, created_at, row counts, first-stage fit)."""
    d = Path(directory)
    if not (d / META_FILE).is_file():
        raise UserError(f"{d}: no {META_FILE}; not a complete ranker snapshot")
    meta = json.loads((d / META_FILE).read_text(encoding="utf-8"))
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{d / META_FILE}: format_version {meta.get('format_version')!r}, "
                        f"this code reads {FORMAT_VERSION}")
    return meta


def load_snapshot(directory: Path | str) -> Snapshot:
    """Read a snapshot written by `build_snapshot`."""
    d = Path(directory)
    meta = load_meta(d)
    tables = {name: pd.read_parquet(d / f"{name}.parquet") for name in TABLES}
    side = pd.read_parquet(d / f"{INFLUENCER_SIDE}.parquet")
    if not side["influencer_id"].equals(tables["influencers"]["influencer_id"]):
        raise UserError(f"{d}: {INFLUENCER_SIDE}.parquet and influencers.parquet disagree")
    shortlist = json.loads((d / SHORTLIST_FILE).read_text(encoding="utf-8"))
    return Snapshot(as_of=utc_timestamp(meta["as_of"]), meta=meta,
                    ds=_dataset(tables, meta["present"]), influencer_side=side,
                    shortlist=shortlist)
