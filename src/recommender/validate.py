"""Applying the data contract: typed tables, errors that name file, column, rule and ids."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from recommender import coerce, contract
from recommender.contract import Column, Table
from recommender.dataset import VALIDATION_ORDER, Dataset, Problem, ValidationError, empty_rejects
from recommender.io import (
    ReadError,
    is_folder,
    location,
    read_raw,
    table_files,
)

logger = logging.getLogger(__name__)

OnInvalid = Literal["fail", "quarantine"]
MAX_IDS_SHOWN = 5
MAX_QUARANTINED_SHARE = 0.5  # quarantine setting aside more of a table is a format problem
INT_LIMIT = 2**53  # numbers beyond this are not counts or prices, and lose precision as floats

__all__ = ["Dataset", "OnInvalid", "Problem", "ValidationError", "load_dataset", "load_pairs",
           "rejects_path_for", "validate_frames", "validate_pairs"]


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
        ids = tuple(self.labels(mask, MAX_IDS_SHOWN, column))
        self.problems.append(Problem(self.spec.name, self.file, column, rule, count, ids))
        self.bad_rows.append((column, rule, mask))

    def labels(self, mask: pd.Series, limit: int | None = None, column: str = "") -> list[str]:
        """How the rows under `mask` are named in messages: their id, else their row number.

        A table without a unique id (pairs, audience shares) names the row and the offending
        value of `column`: `row 3: 'i9999'`, never another column's value."""
        positions = np.flatnonzero(mask.to_numpy())[:limit]
        key = self.spec.columns[0]
        readable = self.raw.columns.is_unique
        if not key.unique:
            values = (self.raw[column].iloc[positions].tolist()
                      if readable and column in self.raw.columns else [None] * len(positions))
            return [f"row {p + 1}" + ("" if v is None or pd.isna(v) else f": '{v}'")
                    for v, p in zip(values, positions, strict=True)]
        ids = (self.raw[key.name].iloc[positions].tolist()
               if key.name in self.raw.columns and readable else [None] * len(positions))
        return [f"'{v}'" if v is not None and not pd.isna(v) and str(v).strip() else
                f"row {p + 1}" for v, p in zip(ids, positions, strict=True)]

    def bad_mask(self) -> pd.Series:
        """Rows that break at least one rule."""
        bad = pd.Series(False, index=self.raw.index)
        for _, _, mask in self.bad_rows:
            bad |= mask
        return bad

    def too_much_set_aside(self, max_share: float) -> Problem | None:
        """The refusal when quarantine would empty a required table or set aside more than
        `max_share` of its rows: a whole column misread (DD/MM dates), not a few bad rows."""
        bad = self.bad_mask()
        n, total = int(bad.sum()), len(bad)
        emptied = self.spec.required and n == total
        if not total or not (emptied or n / total > max_share):
            return None
        column, rule, mask = max(self.bad_rows, key=lambda b: int(b[2].sum()))
        limit = "every row of a required table" if emptied else f"more than {max_share:.0%}"
        return Problem.fatal_at(
            self.spec.name, self.file,
            f"quarantine would set aside {n:,} of {total:,} rows ({limit}); "
            f"{int(mask.sum()):,} break the rule '{rule}' (first: "
            f"{', '.join(self.labels(mask, MAX_IDS_SHOWN, column))}): fix the file", column)

    def fatal(self, column: str, rule: str) -> None:
        self.problems.append(Problem.fatal_at(self.spec.name, self.file, rule, column))


def _check_column(check: _TableCheck, col: Column) -> None:
    raw = check.raw[col.name]
    name = col.name
    if col.type == "id":
        value = coerce.to_id(raw)
    elif col.type == "str":
        value = coerce.to_text(raw, upper=_is_country(check.spec.name, name), cased=col.cased)
    elif col.type in ("int", "float"):
        value, bad = coerce.to_number(raw)
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
        value, bad = coerce.to_bool(raw, bool(col.default))
        check.flag(name, "true or false", bad)
    elif col.type == "timestamp":
        value, bad = coerce.to_timestamp(raw)
        check.flag(name, "an ISO 8601 timestamp between 1970 and 2200", bad)
        if check.spec.name in contract.TABLES:  # data, unlike a pair's as_of, is the past
            limit = coerce.latest_allowed()
            check.flag(name, f"not in the future (at most {limit:%Y-%m-%d %H:%M} UTC, the "
                       "machine's clock + 1 day)", value.notna() & (value > limit))
    else:  # pragma: no cover - the contract only uses the types above
        raise AssertionError(col.type)

    if col.required and col.type != "bool":
        check.flag(name, "a value is required", coerce.blank_to_na(raw).isna())
    if col.min_value is not None:
        check.flag(name, f">= {col.min_value:g}", value.notna() & (value < col.min_value))
    if col.max_value is not None:
        check.flag(name, f"<= {col.max_value:g}", value.notna() & (value > col.max_value))
    if col.allowed is not None:
        allowed = "one of " + ", ".join(col.allowed)
        check.flag(name, allowed, value.notna() & ~value.isin(col.allowed))
    if col.unique and not _dated(check):
        check.flag(name, "unique", value.notna() & value.duplicated(keep=False))
    if check.spec.name == "influencers" and name == "profile_url":
        check.flag(name, "an http(s) URL", value.notna() & ~value.astype("object").str.match(
            r"https?://[^\s/]+", na=False))
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
            check.typed[col.name] = _absent_column(col, raw.index)
    if spec.long_shares_key:
        _check_shares(check)
    if spec.name == "collaborations":
        _check_settled(check)
    if _dated(check):
        key = spec.columns[0].name
        pair = check.typed[[key, "valid_from"]]
        check.flag(key, "unique per valid_from", pair[key].notna() & pair.duplicated(keep=False))
    _check_references(check, parents)
    return check


def _dated(check: _TableCheck) -> bool:
    """A table with dated rows (contract version 2): its key is unique per valid_from."""
    return "valid_from" in check.raw.columns and any(
        c.name == "valid_from" for c in check.spec.columns)


def _check_settled(check: _TableCheck) -> None:
    """Collaborations: an outcome cannot be settled before the collaboration started."""
    t = check.typed
    if "settled_at" in t and "started_at" in t:
        check.flag("settled_at", "must not be before started_at",
                   (t["settled_at"] < t["started_at"]).fillna(False))


def _delimiter_hint(raw: pd.DataFrame) -> str:
    """A hint when a one-column header looks like columns joined by another delimiter."""
    if len(raw.columns) != 1:
        return ""
    for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
        if sep in str(raw.columns[0]):
            return f"; the file seems to separate columns with {name}: CSV files must use commas"
    return ""


def _absent_column(col: Column, index: pd.Index) -> pd.Series:
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
    return pd.DataFrame({c.name: _absent_column(c, idx) for c in spec.columns})


def empty_table(name: str) -> pd.DataFrame:
    """Contract table `name` with no row, in the types validation gives."""
    return _empty_table(contract.TABLES[name])


def _rejects_of(check: _TableCheck) -> pd.DataFrame:
    if not check.bad_rows:
        return empty_rejects()
    parts = []
    for column, rule, mask in check.bad_rows:
        rows = check.raw[mask]
        parts.append(pd.DataFrame({
            "table": check.spec.name,
            "file": check.file,
            "row": (rows.index + 1).astype(int),
            "id": check.labels(mask, column=column),
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
    source: str | Path | None = None,
    notes: list[str] | None = None,
    max_quarantined_share: float = MAX_QUARANTINED_SHARE,
    deferred: tuple[str, ...] = (),
) -> Dataset:
    """Check raw frames against the contract and return typed tables.

    Tables named in `deferred` are checked elsewhere, part by part (`check_part`, on Dask
    workers): they are present but empty here.

    With on_invalid="fail" any broken rule raises ValidationError listing every problem.
    With "quarantine", offending rows go to `Dataset.rejects` (rule included) and the valid
    rows are kept; rows whose parent was rejected are rejected in turn. A table that cannot
    be used at all (missing required column, no rows) raises in both modes, and so does
    quarantine that would empty a required table or set aside more than
    `max_quarantined_share` of any table's rows. `notes` are
    warnings found before (while reading the folder), reported with the others.
    """
    if on_invalid not in ("fail", "quarantine"):
        raise ValueError(f"on_invalid must be 'fail' or 'quarantine', not {on_invalid!r}")
    files = dict(files or {})
    problems: list[Problem] = []
    warnings: list[str] = list(notes or [])
    typed: dict[str, pd.DataFrame] = {}
    present: dict[str, frozenset[str]] = {}
    rejects = [empty_rejects()]
    parents: dict[str, pd.Series] = {}

    for name in deferred:
        present[name] = frozenset(contract.TABLES[name].column_names)
    for name in contract.TABLES:
        if contract.TABLES[name].required and name not in frames and name not in deferred:
            problems.append(Problem.fatal_at(name, files.get(name, f"{name}.csv|.parquet"),
                                             "required table is missing"))
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
        bad = check.bad_mask()
        rejects.append(_rejects_of(check))
        if on_invalid == "quarantine":
            refusal = check.too_much_set_aside(max_quarantined_share)
            if refusal is not None:
                problems.append(refusal)
            check.typed = check.typed[~bad]
        typed[name] = _finalise(check)
        key = spec.columns[0]
        if key.unique:
            parents[f"{name}.{key.name}"] = typed[name][key.name].dropna()

    fatal = [p for p in problems if p.fatal]
    if fatal or (problems and on_invalid == "fail"):
        raise ValidationError(fatal if fatal and on_invalid == "quarantine" else problems)

    warnings.extend(_vocabulary_warnings(typed, files))
    from recommender.features.attributes import split_dated

    influencers, history = split_dated(typed["influencers"])
    ds = Dataset(
        influencers=influencers, influencer_history=history,
        posts=typed["posts"], brands=typed["brands"],
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


def check_part(table: str, raw: pd.DataFrame, file: str, parents: dict[str, pd.Series]
               ) -> tuple[pd.DataFrame, list[Problem]]:
    """One part of a table checked on its own against the contract (the parents' ids given):
    (typed rows, every broken rule). A rule across parts (a unique column) is the caller's."""
    check = _check_table(contract.TABLES[table], raw, file, parents)
    if any(p.fatal for p in check.problems):
        return _empty_table(check.spec), check.problems
    return _finalise(check), check.problems


def merge_problems(problems: list[Problem], file: str) -> list[Problem]:
    """The problems of a table's parts as one list for the table `file`: counts of the same
    (column, rule) added up, their first ids kept; fatal problems (naming a part) as they are."""
    merged: dict[tuple[str, str, str], Problem] = {}
    out = [p for p in problems if p.fatal]
    for p in problems:
        if p.fatal:
            continue
        key = (p.table, p.column, p.rule)
        seen = merged.get(key)
        merged[key] = replace(p, file=file) if seen is None else replace(
            seen, count=seen.count + p.count,
            first_ids=(seen.first_ids + p.first_ids)[:MAX_IDS_SHOWN])
    return out + list(merged.values())


def read_tables(data_dir: str | Path, skip: tuple[str, ...] = ()
                ) -> tuple[dict[str, pd.DataFrame], dict[str, str], list[str]]:
    """Read every contract table present in `data_dir` (a folder or an fsspec URL) as raw
    frames: a folder of Parquet files wins over a Parquet file, which wins over CSV. Returns
    the frames (none for the tables in `skip`, read elsewhere part by part), the file each
    table is read from, and a warning for each file not read because another form of its
    table wins (a CSV beside the Parquet file of the same table)."""
    data_dir = location(data_dir)
    try:
        folder = is_folder(data_dir)
    except ReadError as exc:
        raise ValidationError([Problem.fatal_at("", str(data_dir), exc.reason)]) from exc
    except OSError as exc:
        raise ValidationError([Problem.fatal_at("", str(data_dir), f"cannot be read: {exc}")]
                              ) from exc
    if not folder:
        raise ValidationError([Problem.fatal_at("", str(data_dir), "is not a folder")])
    frames, files, shadowed, problems = {}, {}, [], []
    for name in contract.TABLES:
        present = table_files(data_dir, name)
        if not present:
            continue
        path = present[0]
        files[name] = str(path)
        shadowed.extend(f"{other}: not read, {path} holds the table '{name}' (remove one of "
                        "them)" for other in present[1:])
        if name in skip:
            continue
        try:
            frames[name] = read_raw(path)
        except ReadError as exc:
            problems.append(Problem.fatal_at(name, str(exc.path), exc.reason))
    if problems:
        raise ValidationError(problems)
    return frames, files, shadowed


def load_dataset(data_dir: str | Path, on_invalid: OnInvalid = "fail") -> Dataset:
    """Read and validate the data folder `data_dir` (local or an fsspec URL): every command's
    entry to the data."""
    frames, files, shadowed = read_tables(data_dir)
    return validate_frames(frames, files, on_invalid=on_invalid, source=location(data_dir),
                           notes=shadowed)


def load_pairs(
    path: Path, ds: Dataset, on_invalid: OnInvalid = "fail"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and validate a pairs file against `ds`; a missing as_of is the data's latest time.

    Returns (pairs with brand_id, influencer_id, as_of; rejects).
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError([Problem.fatal_at("pairs", str(path), "file not found")])
    try:
        raw = read_raw(path)
    except ReadError as exc:
        raise ValidationError([Problem.fatal_at("pairs", str(path), exc.reason)]) from exc
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
    bad = check.bad_mask()
    pairs = check.typed[~bad].reset_index(drop=True)
    if pairs["as_of"].isna().any():
        pairs["as_of"] = pairs["as_of"].fillna(ds.latest_timestamp)
    return pairs[["brand_id", "influencer_id", "as_of"]], _rejects_of(check)


def rejects_path_for(out: Path) -> Path:
    """Where the rejects of a command writing `out` go: beside it."""
    out = Path(out)
    return out.with_name(out.stem + ".rejects.csv")
