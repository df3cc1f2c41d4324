"""Raw cells to contract types (ids, text, numbers, booleans, timestamps), with the mask of
values given but not readable as that type."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Timestamps outside this window are typos (year 20245) rather than data.
MIN_TIME = pd.Timestamp("1970-01-01", tz="UTC")
MAX_TIME = pd.Timestamp("2200-01-01", tz="UTC")
# Data describes what has happened: a time later than the machine's clock by more than this
# (time zones, clock skew) is a typo (2062 for 2026), never "now" for every pair.
FUTURE_MARGIN = pd.Timedelta(days=1)
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


def as_string(s: pd.Series) -> pd.Series:
    """Cells as written, as a string column; missing stays missing."""
    return s.astype("string")


def blank_to_na(s: pd.Series) -> pd.Series:
    """Text trimmed, with blank cells missing; numbers and timestamps pass through."""
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        text = as_string(s).str.strip()
        return text.mask(text.eq("").fillna(False))
    return s


def to_id(s: pd.Series) -> pd.Series:
    """Ids as strings, exactly as written; integer Parquet ids become decimal strings."""
    if pd.api.types.is_bool_dtype(s):
        out = as_string(s)
    elif pd.api.types.is_integer_dtype(s):
        out = s.astype("Int64").astype("string")
    elif pd.api.types.is_float_dtype(s):
        integral = s.notna() & np.isfinite(s) & (s == np.round(s))
        out = as_string(s)
        out[integral] = s[integral].astype("int64").astype("string")
    else:
        out = as_string(s)
    out = out.mask(out.eq("").fillna(False))
    return out.astype("str")


def to_text(s: pd.Series, upper: bool = False, cased: bool = False) -> pd.Series:
    """Text trimmed, blank = missing; lower-cased (upper-cased with `upper`) unless `cased`."""
    out = blank_to_na(as_string(s))  # a numeric Parquet column is text here too
    if not cased:
        out = out.str.upper() if upper else out.str.lower()
    return out.astype("str")


def to_number(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as float64, and the mask of values given but not numbers."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64"), pd.Series(False, index=s.index)
    raw = blank_to_na(s) if not pd.api.types.is_numeric_dtype(s) else s
    num = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = raw.notna() & num.isna()
    return num, bad


def to_bool(s: pd.Series, default: bool) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool), pd.Series(False, index=s.index)
    low = blank_to_na(as_string(s)).str.lower()
    out = pd.Series(default, index=s.index, dtype=bool)
    out[low.isin(TRUE_WORDS)] = True
    out[low.isin(FALSE_WORDS)] = False
    bad = low.notna() & ~low.isin(TRUE_WORDS | FALSE_WORDS)
    return out, bad


def utc_timestamp(value: object) -> pd.Timestamp:
    """One instant in UTC; a timestamp without a zone is UTC (the contract's rule)."""
    t = pd.Timestamp(value)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def utc_series(s: pd.Series) -> pd.Series:
    """A datetime column in UTC; values without a zone are UTC."""
    return s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")


def in_time_range(ts: pd.Series) -> pd.Series:
    """True for timestamps in [MIN_TIME, MAX_TIME); False for missing ones."""
    return ts.notna() & (ts >= MIN_TIME) & (ts < MAX_TIME)


def latest_allowed(now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The latest instant a data table may hold: the machine's clock plus FUTURE_MARGIN."""
    return (utc_timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")) + FUTURE_MARGIN


def to_timestamp(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_datetime64_any_dtype(s):
        ts = utc_series(s)
        given = s.notna()
    else:
        text = blank_to_na(as_string(s))
        given = text.notna()
        ts = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    in_range = in_time_range(ts)
    bad = given & ~in_range
    ts = ts.where(in_range).astype("datetime64[ns, UTC]")
    return ts, bad
