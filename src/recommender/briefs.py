"""Briefs and request parameters: checked value by value, each error naming the field and value.

The values are checked here rather than trusted to a schema: a REST layer may coerce `1.5`,
`"7"` or `true` into an integer column, so a brief's raw values are inspected one by one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recommender import config
from recommender.coerce import utc_timestamp
from recommender.contract import DIMENSIONS, NICHES, PLATFORMS, SHARE_SUM_TOLERANCE
from recommender.errors import UserError

logger = logging.getLogger(__name__)

BRAND_FIELDS = ("brand_id", "category", "brand_country",
                *(f"target_{d}" for d in DIMENSIONS))
FILTER_FIELDS = ("platform", "country", "min_followers", "max_followers", "max_price", "niche",
                 "exclude_influencer_ids")
LIKE_FIELD = "like"  # seed influencers of a lookalike brief (recommender.lookalike)
BRIEF_FIELDS = BRAND_FIELDS + FILTER_FIELDS + (LIKE_FIELD,)
INLINE_FIELDS = BRAND_FIELDS[1:]


@dataclass(frozen=True)
class Brief:
    """One checked brief: which brand (known, or described inline) and which influencers."""

    label: Any  # the brief's index in the request
    brand_id: str | None
    known: bool
    category: str | None = None
    brand_country: str | None = None
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    platform: str | None = None
    country: str | None = None
    min_followers: int = config.MICRO_MIN_FOLLOWERS
    max_followers: int = config.MICRO_MAX_FOLLOWERS
    max_price: float | None = None
    niche: str | None = None
    exclude: frozenset[str] = frozenset()
    like: tuple[str, ...] = ()  # seed influencer ids: rank by likeness to them as well

    @property
    def branded(self) -> bool:
        """False for a lookalike brief that names no brand (ranked by similarity alone)."""
        return self.known or self.category is not None


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float | np.floating) and math.isnan(v)


def _fail(label: Any, name: str, value: Any, rule: str) -> UserError:
    return UserError(f"brief {label}: {name} = {value!r}: {rule}")


def _text(label: Any, name: str, v: Any) -> str | None:
    if _missing(v):
        return None
    if not isinstance(v, str):
        raise _fail(label, name, v, "must be a string")
    return v.strip() or None


def _whole(label: Any, name: str, v: Any, default: int) -> int:
    if _missing(v):
        return default
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
        raise _fail(label, name, v, "must be a whole number")
    if not math.isfinite(float(v)) or float(v) != int(v):
        raise _fail(label, name, v, "must be a whole number")
    if v < 0:
        raise _fail(label, name, v, "must be >= 0")
    return int(v)


def number(name: str, v: Any, *, positive: bool = False, label: Any = None) -> float | None:
    """A finite number >= 0 (> 0 if `positive`), None if missing; never a bool or a string."""
    if _missing(v):
        return None
    where = f"brief {label}: " if label is not None else ""
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating):
        raise UserError(f"{where}{name} = {v!r}: must be a number")
    if not math.isfinite(float(v)) or v < 0 or (positive and v == 0):
        raise UserError(f"{where}{name} = {v!r}: must be a finite number "
                        f"{'> 0' if positive else '>= 0'}")
    return float(v)


def _ids(label: Any, v: Any, name: str = "exclude_influencer_ids") -> tuple[str, ...]:
    """A list of id strings (one string is a list of one), stripped, first-seen order."""
    if _missing_field(v):
        return ()
    if not isinstance(v, Iterable):
        raise _fail(label, name, v, "must be a list of id strings")
    items = [v] if isinstance(v, str) else list(v)
    bad = [x for x in items if not isinstance(x, str) or not x.strip()]
    if bad:
        raise _fail(label, name, bad[0], "must be a list of id strings")
    return tuple(dict.fromkeys(x.strip() for x in items))


def _targets(label: Any, row: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    out = {}
    for dim in DIMENSIONS:
        v = row.get(f"target_{dim}")
        if v is None or (not isinstance(v, Mapping) and _missing(v)):
            continue
        if not isinstance(v, Mapping) or not v:
            raise _fail(label, f"target_{dim}", v, "must map segments to shares, "
                        "e.g. {\"18-24\": 0.6, \"25-34\": 0.4}")
        shares = {str(s): number(f"target_{dim}.{s}", x, label=label) for s, x in v.items()}
        bad = {s: x for s, x in shares.items() if x is None or x > 1}
        if bad:
            raise _fail(label, f"target_{dim}.{next(iter(bad))}", next(iter(bad.values())),
                        "must be a share in [0, 1]")
        if sum(shares.values()) > 1 + SHARE_SUM_TOLERANCE:
            raise _fail(label, f"target_{dim}", v, f"shares add up to "
                        f"{sum(shares.values()):g}; at most 1")
        out[dim] = shares
    return out


def parse_brief(label: Any, row: Mapping[str, Any], brand_ids: pd.Index,
                niches: pd.Index) -> Brief:
    """Check one brief (a mapping of field -> value) against the catalogue it is ranked on."""
    unknown = sorted(str(k) for k in row if k not in BRIEF_FIELDS)
    if unknown:
        raise UserError(f"brief {label}: unknown field(s) {', '.join(unknown)}; "
                        f"known fields: {', '.join(BRIEF_FIELDS)}")
    brand_id = _text(label, "brand_id", row.get("brand_id"))
    category = _text(label, "category", row.get("category"))
    known = brand_id is not None and brand_id in brand_ids
    like = _ids(label, row.get(LIKE_FIELD), LIKE_FIELD)
    inline = {k: row[k] for k in INLINE_FIELDS if k in row and not _missing_field(row[k])}
    if known and inline:
        raise _fail(label, next(iter(inline)), next(iter(inline.values())),
                    f"brand_id {brand_id!r} is in the data; inline fields describe a brand "
                    "that is not")
    if not known and category is None and not (like and brand_id is None):
        if brand_id is None:
            raise UserError(f"brief {label}: brand_id is required (or category, to describe "
                            "a brand that is not in the data, or like, to rank by likeness "
                            "to seed influencers)")
        raise _fail(label, "brand_id", brand_id, "is not in the data; describe the brand "
                    "inline with category (and optional brand_country, target_age, "
                    "target_gender, target_country)")
    if not known and category is not None:
        _warn_unknown_category(label, category, niches)
    platform = _text(label, "platform", row.get("platform"))
    if platform is not None and platform.lower() not in PLATFORMS:
        raise _fail(label, "platform", platform, f"must be one of {', '.join(PLATFORMS)}")
    niche = _text(label, "niche", row.get("niche"))
    if niche is not None and niche.lower() not in niches:
        raise _fail(label, "niche", niche, f"no influencer has it; niches: {', '.join(niches)}")
    lo = _whole(label, "min_followers", row.get("min_followers"), config.MICRO_MIN_FOLLOWERS)
    hi = _whole(label, "max_followers", row.get("max_followers"), config.MICRO_MAX_FOLLOWERS)
    if lo > hi:
        raise UserError(f"brief {label}: min_followers = {lo} is above max_followers = {hi}")
    return Brief(
        label=label, brand_id=brand_id, known=known,
        category=None if known or category is None else category.lower(),
        brand_country=None if known else _country(label, "brand_country",
                                                  row.get("brand_country")),
        targets={} if known else _targets(label, row),
        platform=platform.lower() if platform else None,
        country=_country(label, "country", row.get("country")),
        min_followers=lo, max_followers=hi,
        max_price=number("max_price", row.get("max_price"), label=label),
        niche=niche.lower() if niche else None,
        exclude=frozenset(_ids(label, row.get("exclude_influencer_ids"))), like=like,
    )


def _warn_unknown_category(label: Any, category: str, niches: pd.Index) -> None:
    """A category outside the vocabulary is allowed (the contract keeps unknown values) but
    is most often a typo that silently ranks as an unseen category: say so, with the closest."""
    import difflib

    known = sorted(set(NICHES) | {str(n) for n in niches})
    if category.lower() in known:
        return
    close = difflib.get_close_matches(category.lower(), known, n=1)
    logger.warning("brief %s: category %r is not a known category (it ranks as an unseen "
                   "one)%s", label, category, f"; did you mean {close[0]!r}?" if close else
                   f"; known: {', '.join(known)}")


def _missing_field(v: Any) -> bool:
    return not isinstance(v, Mapping | list | tuple | np.ndarray) and _missing(v)


def _country(label: Any, name: str, v: Any) -> str | None:
    text = _text(label, name, v)
    if text is None:
        return None
    if len(text) != 2 or not text.isalpha():
        raise _fail(label, name, v, "must be an ISO 3166-1 alpha-2 code such as US")
    return text.upper()


def parse_briefs(briefs: Any, brand_ids: pd.Index, niches: pd.Index) -> list[Brief]:
    """Check a table of briefs (one per row); the row's index label names it in errors."""
    if isinstance(briefs, Mapping):
        briefs = pd.DataFrame([briefs])
    if not isinstance(briefs, pd.DataFrame):
        raise UserError(f"briefs must be a table with one brief per row, got "
                        f"{type(briefs).__name__}; e.g. {{\"dataframe_records\": "
                        f"[{{\"brand_id\": \"b001\"}}]}}")
    if len(briefs) == 0:
        raise UserError("briefs: the request holds no brief (one row per brief, e.g. "
                        "{\"brand_id\": \"b001\"})")
    if len(briefs) > config.MAX_BRIEFS_PER_REQUEST:
        raise UserError(f"briefs: {len(briefs)} briefs in one request; at most "
                        f"{config.MAX_BRIEFS_PER_REQUEST}")
    columns = [str(c) for c in briefs.columns]
    records = briefs.to_dict(orient="records")
    return [parse_brief(label, dict(zip(columns, rec.values(), strict=True)), brand_ids, niches)
            for label, rec in zip(briefs.index, records, strict=True)]


def parse_top_n(v: Any) -> int:
    """top_n: a whole number in [1, MAX_TOP_N]."""
    if v is None:
        return config.DEFAULT_TOP_N
    if isinstance(v, bool | np.bool_) or not isinstance(v, int | np.integer) and not (
            isinstance(v, float | np.floating) and float(v).is_integer()):
        raise UserError(f"top_n = {v!r}: must be a whole number from 1 to {config.MAX_TOP_N}")
    if not 1 <= v <= config.MAX_TOP_N:
        raise UserError(f"top_n = {v!r}: must be from 1 to {config.MAX_TOP_N}")
    return int(v)


def parse_as_of(v: Any, snapshot_as_of: pd.Timestamp) -> pd.Timestamp:
    """as_of: an ISO timestamp (UTC if it names no zone), not before the snapshot's as_of
    (the end of the model's data) and at most `config.AS_OF_HORIZON_DAYS` days after it."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return snapshot_as_of
    try:
        t = pd.Timestamp(v)
    except (TypeError, ValueError):
        t = pd.NaT
    if pd.isna(t) or isinstance(v, bool | int | float):
        raise UserError(f"as_of = {v!r}: must be an ISO 8601 timestamp such as "
                        "2025-06-30T00:00:00Z")
    t = utc_timestamp(t)
    if t < snapshot_as_of:
        raise UserError(f"as_of = {v!r}: is before the model's snapshot ({snapshot_as_of}); "
                        "it holds no earlier state (score past pairs in batch instead)")
    horizon = snapshot_as_of + pd.Timedelta(days=config.AS_OF_HORIZON_DAYS)
    if t > horizon:
        raise UserError(f"as_of = {v!r}: is more than {config.AS_OF_HORIZON_DAYS} days after "
                        f"the end of the model's data ({snapshot_as_of.isoformat()}); the "
                        f"latest as_of it answers is {horizon.isoformat()} (for later dates "
                        "refresh the model with newer data: `recommender refresh`)")
    return t
