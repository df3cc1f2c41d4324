"""Applying the data contract: typed tables, errors that name file, column, rule and ids."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from recommender import contract
from recommender.contract import Column, Table
from recommender.io import ReadError, find_table_file, read_raw

logger = logging.getLogger(__name__)

OnInvalid = Literal["fail", "quarantine"]
MAX_IDS_SHOWN = 5
# Timestamps outside this window are typos (year 20245) rather than data.
MIN_TIME = pd.Timestamp("1970-01-01", tz="UTC")
MAX_TIME = pd.Timestamp("2200-01-01", tz="UTC")
INT_LIMIT = 2**53  # numbers beyond this are not counts or prices, and lose precision as floats
TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})
VALIDATION_ORDER = (
    "influencers", "brands", "audience", "posts", "brand_audience", "collaborations",
)


@dataclass(frozen=True)
class Problem:
    """One broken rule: which file, column and rule, how many rows, which ids."""

    table: str
    file: str
    column: str
    rule: str
    count: int
    first_ids: tuple[str, ...] = ()
    fatal: bool = False  # the table cannot be used at all (missing column, unreadable, empty)

    def message(self) -> str:
        where = f"{self.file}: column '{self.column}'" if self.column else self.file
        if self.fatal:
            return f"{where}: {self.rule}"
        ids = ", ".join(self.first_ids)
        rows = "row breaks" if self.count == 1 else "rows break"
        return f"{where}: {self.count} {rows} the rule '{self.rule}' (first: {ids})"


class ValidationError(ValueError):
    """Data that breaks the contract; `problems` lists every broken rule."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(p.message() for p in problems))


@dataclass
class Dataset:
    """The validated, typed tables of one data folder."""

    influencers: pd.DataFrame
    posts: pd.DataFrame
    brands: pd.DataFrame
    audience: pd.DataFrame
    brand_audience: pd.DataFrame
    collaborations: pd.DataFrame
    present: dict[str, frozenset[str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rejects: pd.DataFrame = field(default_factory=lambda: _empty_rejects())
    source: Path | None = None

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    def has_table(self, name: str) -> bool:
        """True when the table was present in the source (possibly with zero rows)."""
        return name in self.present

    def has_column(self, table: str, column: str) -> bool:
        """True when the column was present in the source table."""
        return column in self.present.get(table, frozenset())

    @property
    def latest_timestamp(self) -> pd.Timestamp:
        """The latest instant in the data: the default `as_of`."""
        stamps = [self.posts["posted_at"].max(), self.collaborations["started_at"].max()]
        stamps = [s for s in stamps if pd.notna(s)]
        if not stamps:
            raise ValueError("the data holds no timestamp: posts and collaborations are empty")
        return max(stamps)

    @property
    def earliest_timestamp(self) -> pd.Timestamp | None:
        stamps = [self.posts["posted_at"].min(), self.collaborations["started_at"].min()]
        stamps = [s for s in stamps if pd.notna(s)]
        return min(stamps) if stamps else None

    def row_counts(self) -> dict[str, int]:
        return {name: len(self.table(name)) for name in VALIDATION_ORDER}


# ----------------------------------------------------------------------------- coercion


def _empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="object") for c in
         ("table", "file", "row", "id", "column", "rule", "value", "record")}
    )


def _as_string(s: pd.Series) -> pd.Series:
    """Cells as written, as a string column; missing stays missing."""
    return s.astype("string")


def _blank_to_na(s: pd.Series) -> pd.Series:
    """Text trimmed, with blank cells missing; numbers and timestamps pass through."""
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        text = _as_string(s).str.strip()
        return text.mask(text.eq("").fillna(False))
    return s


def _to_id(s: pd.Series) -> pd.Series:
    """Ids as strings, exactly as written; integer Parquet ids become decimal strings."""
    if pd.api.types.is_bool_dtype(s):
        out = _as_string(s)
    elif pd.api.types.is_integer_dtype(s):
        out = s.astype("Int64").astype("string")
    elif pd.api.types.is_float_dtype(s):
        integral = s.notna() & np.isfinite(s) & (s == np.round(s))
        out = _as_string(s)
        out[integral] = s[integral].astype("int64").astype("string")
    else:
        out = _as_string(s)
    out = out.mask(out.eq("").fillna(False))
    return out.astype("str")


def _to_text(s: pd.Series, upper: bool = False) -> pd.Series:
    out = _blank_to_na(_as_string(s))  # a numeric Parquet column is text here too
    out = out.str.upper() if upper else out.str.lower()
    return out.astype("str")


def _to_number(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers as float64, and the mask of values given but not numbers."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64"), pd.Series(False, index=s.index)
    raw = _blank_to_na(s) if not pd.api.types.is_numeric_dtype(s) else s
    num = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = raw.notna() & num.isna()
    return num, bad


def _to_bool(s: pd.Series, default: bool) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_bool_dtype(s) and not s.isna().any():
        return s.astype(bool), pd.Series(False, index=s.index)
    low = _blank_to_na(_as_string(s)).str.lower()
    out = pd.Series(default, index=s.index, dtype=bool)
    out[low.isin(TRUE_WORDS)] = True
    out[low.isin(FALSE_WORDS)] = False
    bad = low.notna() & ~low.isin(TRUE_WORDS | FALSE_WORDS)
    return out, bad


def _to_timestamp(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_datetime64_any_dtype(s):
        ts = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
        given = s.notna()
    else:
        text = _blank_to_na(_as_string(s))
        given = text.notna()
        ts = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    in_range = ts.notna() & (ts >= MIN_TIME) & (ts < MAX_TIME)
    bad = given & ~in_range
    ts = ts.where(in_range).astype("datetime64[ns, UTC]")
    return ts, bad


# ----------------------------------------------------------------------------- checking


@dataclass
class _TableCheck:
    """Working state while one table is checked."""

    spec: Table
    file: str
    raw: pd.DataFrame
    typed: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    bad_rows: list[tuple[str, str, pd.Series]] = field(default_factory=list)  # column, rule, mask

    def flag(self, column: str, rule: str, mask: pd.Series) -> None:
        mask = mask.fillna(False).astype(bool)
        count = int(mask.sum())
        if count == 0:
            return
        ids = tuple(self.labels(mask, MAX_IDS_SHOWN))
        self.problems.append(Problem(self.spec.name, self.file, column, rule, count, ids))
        self.bad_rows.append((column, rule, mask))

    def labels(self, mask: pd.Series, limit: int | None = None) -> list[str]:
        """How the rows under `mask` are named in messages: their id, else their row number."""
        positions = np.flatnonzero(mask.to_numpy())[:limit]
        key = self.spec.columns[0].name
        ids = (self.raw[key].iloc[positions].tolist()
               if key in self.raw.columns and self.raw.columns.is_unique
               else [None] * len(positions))
        return [f"'{v}'" if v is not None and not pd.isna(v) and str(v).strip() else
                f"row {p + 1}" for v, p in zip(ids, positions, strict=True)]

    def fatal(self, column: str, rule: str) -> None:
        self.problems.append(Problem(self.spec.name, self.file, column, rule, 0, (), fatal=True))


def _check_column(check: _TableCheck, col: Column) -> None:
    raw = check.raw[col.name]
    name = col.name
    if col.type == "id":
        value = _to_id(raw)
    elif col.type == "str":
        value = _to_text(raw, upper=_is_country(check.spec.name, name))
    elif col.type in ("int", "float"):
        value, bad = _to_number(raw)
        check.flag(name, "a number" if col.type == "float" else "an integer", bad)
        finite = value.isna() | np.isfinite(value)
        check.flag(name, "a finite number", ~finite)
        value = value.where(finite)
        frac = value.notna() & (value != np.round(value)) & (col.type == "int")
        check.flag(name, "an integer", frac)
        # beyond this, sums and squares downstream overflow (1e308 is finite, 1e308**2 is not)
        huge = value.notna() & (value.abs() >= INT_LIMIT)
        check.flag(name, f"{'an integer' if col.type == 'int' else 'a number'} below "
                   f"{INT_LIMIT:.0e}", huge)
        value = value.where(~frac & ~huge)
    elif col.type == "bool":
        value, bad = _to_bool(raw, bool(col.default))
        check.flag(name, "true or false", bad)
    elif col.type == "timestamp":
        value, bad = _to_timestamp(raw)
        check.flag(name, "an ISO 8601 timestamp between 1970 and 2200", bad)
    else:  # pragma: no cover - the contract only uses the types above
        raise AssertionError(col.type)

    if col.required and col.type != "bool":
        check.flag(name, "a value is required", _blank_to_na(raw).isna())
    if col.min_value is not None:
        check.flag(name, f">= {col.min_value:g}", value.notna() & (value < col.min_value))
    if col.max_value is not None:
        check.flag(name, f"<= {col.max_value:g}", value.notna() & (value > col.max_value))
    if col.allowed is not None:
        allowed = "one of " + ", ".join(col.allowed)
        check.flag(name, allowed, value.notna() & ~value.isin(col.allowed))
    if col.unique:
        check.flag(name, "unique", value.notna() & value.duplicated(keep=False))
    if _is_country(check.spec.name, name):
        bad = value.notna() & ~value.astype("object").str.fullmatch(r"[A-Z]{2}", na=False)
        check.flag(name, "an ISO 3166-1 alpha-2 country code", bad)
    check.typed[name] = value


def _is_country(table: str, column: str) -> bool:
    return column == "country" and table in ("influencers", "brands")


def _check_shares(check: _TableCheck) -> None:
    """Audience tables: valid segments per dimension, one row per segment, sums <= 1."""
    t = check.typed
    key = check.spec.long_shares_key
    dim, seg = t["dimension"], t["segment"]
    is_country = dim == "country"
    seg_fixed = seg.where(~is_country, seg.str.upper())
    t["segment"] = seg_fixed
    age_bad = (dim == "age") & ~seg_fixed.isin(contract.AGE_SEGMENTS)
    gender_bad = (dim == "gender") & ~seg_fixed.isin(contract.GENDER_SEGMENTS)
    country_bad = is_country & ~seg_fixed.astype("object").str.fullmatch(r"[A-Z]{2}", na=False)
    check.flag("segment", "a segment of its dimension (age: "
               + ", ".join(contract.AGE_SEGMENTS) + "; gender: "
               + ", ".join(contract.GENDER_SEGMENTS) + "; country: ISO alpha-2)",
               (age_bad | gender_bad | country_bad) & seg.notna() & dim.notna())
    dup = t.duplicated([key, "dimension", "segment"], keep=False) & t[key].notna()
    check.flag("segment", f"one row per ({key}, dimension, segment)", dup)
    sums = t.groupby([key, "dimension"], dropna=True)["share"].transform("sum")
    limit = 1.0 + contract.SHARE_SUM_TOLERANCE
    check.flag("share", f"shares per ({key}, dimension) add up to at most {limit:g}",
               sums > limit + 1e-9)


def _check_references(check: _TableCheck, parents: dict[str, pd.Series]) -> None:
    for col in check.spec.columns:
        if col.references and col.name in check.typed:
            parent_ids = parents.get(col.references)
            if parent_ids is None:
                continue
            value = check.typed[col.name]
            missing = value.notna() & ~value.isin(parent_ids)
            check.flag(col.name, f"must exist in {col.references}", missing)


def _check_table(
    spec: Table, raw: pd.DataFrame, file: str, parents: dict[str, pd.Series]
) -> _TableCheck:
    raw = raw.copy()
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    check = _TableCheck(spec, file, raw, pd.DataFrame(index=raw.index))
    dup_cols = raw.columns[raw.columns.duplicated()].unique().tolist()
    for c in dup_cols:
        check.fatal(c, "the column appears more than once in the header")
    missing = [c.name for c in spec.columns if c.required and c.name not in raw.columns]
    for name in missing:
        check.fatal(name, "required column is missing "
                    f"(found: {', '.join(map(str, raw.columns)) or 'none'}){_delimiter_hint(raw)}")
    if spec.required and len(raw) == 0:
        check.fatal("", "the table has no rows")
    if check.problems:
        return check
    for col in spec.columns:
        if col.name in raw.columns:
            _check_column(check, col)
        else:
            check.typed[col.name] = _absent_column(col, len(raw), raw.index)
    if spec.long_shares_key:
        _check_shares(check)
    _check_references(check, parents)
    return check


def _delimiter_hint(raw: pd.DataFrame) -> str:
    """A hint when a one-column header looks like columns joined by another delimiter."""
    if len(raw.columns) != 1:
        return ""
    for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
        if sep in str(raw.columns[0]):
            return f"; the file seems to separate columns with {name}: CSV files must use commas"
    return ""


def _absent_column(col: Column, n: int, index: pd.Index) -> pd.Series:
    if col.type == "bool":
        return pd.Series(bool(col.default), index=index, dtype=bool)
    if col.type == "timestamp":
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    if col.type in ("int", "float"):
        return pd.Series(np.nan, index=index, dtype="float64")
    return pd.Series(None, index=index, dtype="str")


def _finalise(check: _TableCheck) -> pd.DataFrame:
    """Final dtypes: required integer columns as int64, the rest as coerced."""
    out = check.typed
    for col in check.spec.columns:
        whole = col.type == "int" and col.required and col.name in out
        if whole and not out[col.name].isna().any():
            out[col.name] = out[col.name].astype("int64")
    return out.reset_index(drop=True)


def _empty_table(spec: Table) -> pd.DataFrame:
    idx = pd.RangeIndex(0)
    return pd.DataFrame({c.name: _absent_column(c, 0, idx) for c in spec.columns})


def _rejects_of(check: _TableCheck) -> pd.DataFrame:
    if not check.bad_rows:
        return _empty_rejects()
    parts = []
    for column, rule, mask in check.bad_rows:
        rows = check.raw[mask]
        parts.append(pd.DataFrame({
            "table": check.spec.name,
            "file": check.file,
            "row": (rows.index + 1).astype(int),
            "id": check.labels(mask),
            "column": column,
            "rule": rule,
            "value": rows[column].astype("object").map(str).values
            if column in rows.columns else "",
            "record": [json.dumps({k: (None if pd.isna(v) else str(v)) for k, v in r.items()})
                       for r in rows.to_dict("records")],
        }))
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- public API


def validate_frames(
    frames: dict[str, pd.DataFrame],
    files: dict[str, str] | None = None,
    on_invalid: OnInvalid = "fail",
    source: Path | None = None,
) -> Dataset:
    """Check raw frames against the contract and return typed tables.

    With on_invalid="fail" any broken rule raises ValidationError listing every problem.
    With "quarantine", offending rows go to `Dataset.rejects` (rule included) and the valid
    rows are kept; rows whose parent was rejected are rejected in turn. A table that cannot
    be used at all (missing required column, no rows) raises in both modes.
    """
    if on_invalid not in ("fail", "quarantine"):
        raise ValueError(f"on_invalid must be 'fail' or 'quarantine', not {on_invalid!r}")
    files = dict(files or {})
    problems: list[Problem] = []
    warnings: list[str] = []
    typed: dict[str, pd.DataFrame] = {}
    present: dict[str, frozenset[str]] = {}
    rejects = [_empty_rejects()]
    parents: dict[str, pd.Series] = {}

    for name in contract.TABLES:
        if contract.TABLES[name].required and name not in frames:
            problems.append(Problem(name, files.get(name, f"{name}.csv|.parquet"), "",
                                    "required table is missing", 0, (), fatal=True))
    for name in VALIDATION_ORDER:
        spec = contract.TABLES[name]
        if name not in frames:
            typed[name] = _empty_table(spec)
            continue
        file = files.setdefault(name, name)
        check = _check_table(spec, frames[name], file, parents)
        present[name] = frozenset(check.raw.columns)
        extra = sorted(set(check.raw.columns) - set(spec.column_names))
        if extra:
            warnings.append(f"{file}: ignored columns: {', '.join(extra)}")
        problems.extend(check.problems)
        if any(p.fatal for p in check.problems):
            typed[name] = _empty_table(spec)
            continue
        bad = pd.Series(False, index=check.raw.index)
        for _, _, mask in check.bad_rows:
            bad |= mask
        rejects.append(_rejects_of(check))
        if on_invalid == "quarantine":
            check.typed = check.typed[~bad]
        typed[name] = _finalise(check)
        key = spec.columns[0]
        if key.unique:
            parents[f"{name}.{key.name}"] = typed[name][key.name].dropna()

    fatal = [p for p in problems if p.fatal]
    if fatal or (problems and on_invalid == "fail"):
        raise ValidationError(fatal if fatal and on_invalid == "quarantine" else problems)

    warnings.extend(_vocabulary_warnings(typed, files))
    ds = Dataset(
        influencers=typed["influencers"], posts=typed["posts"], brands=typed["brands"],
        audience=typed["audience"], brand_audience=typed["brand_audience"],
        collaborations=typed["collaborations"], present=present, files=files,
        warnings=warnings, rejects=pd.concat(rejects, ignore_index=True), source=source,
    )
    for w in warnings:
        logger.warning(w)
    return ds


def _vocabulary_warnings(typed: dict[str, pd.DataFrame], files: dict[str, str]) -> list[str]:
    out = []
    for table, column in (("influencers", "niche"), ("brands", "category")):
        values = typed[table][column]
        unknown = values[values.notna() & ~values.isin(contract.NICHES)]
        if len(unknown):
            counts = unknown.value_counts().head(5)
            shown = ", ".join(f"{k} ({v})" for k, v in counts.items())
            out.append(f"{files.get(table, table)}: column '{column}': {len(unknown)} rows "
                       f"outside the reference vocabulary, kept as their own value: {shown}")
    posts = typed["posts"]
    if len(posts) and posts["brand_id"].notna().any():
        known = typed["brands"]["brand_id"]
        unknown = posts["brand_id"].notna() & ~posts["brand_id"].isin(known)
        if unknown.any():
            out.append(f"{files.get('posts', 'posts')}: column 'brand_id': {int(unknown.sum())} "
                       "sponsored posts name a brand that is not in brands")
    return out


def read_tables(data_dir: Path) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read every contract table present in `data_dir` as raw frames (Parquet wins over CSV)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ValidationError([Problem("", str(data_dir), "", "is not a folder", 0, (), True)])
    frames, files, problems = {}, {}, []
    for name in contract.TABLES:
        path = find_table_file(data_dir, name)
        if path is None:
            continue
        files[name] = str(path)
        try:
            frames[name] = read_raw(path)
        except ReadError as exc:
            problems.append(Problem(name, str(path), "", str(exc).split(": ", 1)[-1], 0, (), True))
    if problems:
        raise ValidationError(problems)
    return frames, files


def load_dataset(data_dir: Path, on_invalid: OnInvalid = "fail") -> Dataset:
    """Read and validate the data folder `data_dir`: every command's entry to the data."""
    frames, files = read_tables(data_dir)
    return validate_frames(frames, files, on_invalid=on_invalid, source=Path(data_dir))


def load_pairs(
    path: Path, ds: Dataset, on_invalid: OnInvalid = "fail"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate a pairs file against `ds`; a missing as_of is the data's latest time.

    Returns (pairs with brand_id, influencer_id, as_of; rejects).
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError([Problem("pairs", str(path), "", "file not found", 0, (), True)])
    try:
        raw = read_raw(path)
    except ReadError as exc:
        raise ValidationError(
            [Problem("pairs", str(path), "", str(exc).split(": ", 1)[-1], 0, (), True)]
        ) from exc
    return validate_pairs(raw, ds, str(path), on_invalid)


def validate_pairs(
    raw: pd.DataFrame, ds: Dataset, file: str = "pairs", on_invalid: OnInvalid = "fail"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check a raw pairs frame against `ds`; see `load_pairs`."""
    parents = {
        "brands.brand_id": ds.brands["brand_id"],
        "influencers.influencer_id": ds.influencers["influencer_id"],
    }
    check = _check_table(contract.PAIRS, raw, file, parents)
    fatal = [p for p in check.problems if p.fatal]
    if fatal or (check.problems and on_invalid == "fail"):
        raise ValidationError(fatal or check.problems)
    bad = pd.Series(False, index=check.raw.index)
    for _, _, mask in check.bad_rows:
        bad |= mask
    pairs = check.typed[~bad].reset_index(drop=True)
    if pairs["as_of"].isna().any():
        pairs["as_of"] = pairs["as_of"].fillna(ds.latest_timestamp)
    return pairs[["brand_id", "influencer_id", "as_of"]], _rejects_of(check)


def rejects_path_for(out: Path) -> Path:
    """Where the rejects of a command writing `out` go: beside it."""
    out = Path(out)
    return out.with_name(out.stem + ".rejects.csv")
