"""Reading a pairs file chunk by chunk, each chunk validated exactly as `load_pairs` would.

CSV is read with the same options as `recommender.io.read_raw` (every cell a string, only
empty cells missing); Parquet batch by batch. A chunk whose ids are plain strings that all
exist and whose as_of values all parse takes a vectorised fast path that returns what
`validate_pairs` returns; any other chunk goes through `validate_pairs` itself, so errors
and rejects are the contract's. Row numbers in rejects count over the whole file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from recommender.coerce import in_time_range, utc_series
from recommender.dataset import Dataset, Problem, ValidationError
from recommender.io import CSV_OPTIONS, ReadError, header_as_written, read_errors, read_raw
from recommender.validate import MAX_IDS_SHOWN, OnInvalid, validate_pairs

logger = logging.getLogger(__name__)

ID_COLUMNS = ("brand_id", "influencer_id")
Chunks = Iterator[tuple[pd.DataFrame, pd.DataFrame]]


def _fatal(path: Path, rule: str) -> ValidationError:
    return ValidationError([Problem.fatal_at("pairs", str(path), rule)])


def read_raw_chunks(path: Path, chunk_size: int) -> tuple[Iterator[pd.DataFrame], int | None]:
    """Raw chunks of a pairs file (index = row position in the file) and the row count
    when the format tells it without reading (Parquet), else None."""
    path = Path(path)
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    if not path.is_file():
        raise _fatal(path, "file not found")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            source = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise _fatal(path, f"cannot be read as Parquet: {exc}") from None
        return _parquet_chunks(source, chunk_size), source.metadata.num_rows
    return _csv_chunks(path, chunk_size), None


def _parquet_chunks(source, chunk_size: int) -> Iterator[pd.DataFrame]:
    offset = 0
    for batch in source.iter_batches(batch_size=chunk_size):
        frame = batch.to_pandas()
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        offset += len(frame)
        yield frame


def _csv_chunks(path: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """CSV chunks read as `read_raw` reads a whole file (same options, errors and header)."""
    try:
        with read_errors(path), pd.read_csv(path, chunksize=chunk_size,
                                            **CSV_OPTIONS) as reader:
            columns = None
            for chunk in reader:
                if columns is None:
                    columns = header_as_written(chunk.columns, path)
                yield chunk.set_axis(columns, axis=1)
    except ReadError as exc:
        raise _fatal(path, exc.reason) from None


def fast_pairs(raw: pd.DataFrame, brands: pd.Index, influencers: pd.Index,
               latest: pd.Timestamp) -> pd.DataFrame | None:
    """What `validate_pairs(raw, ...)` returns for a chunk that breaks no rule, computed
    without per-cell Python; None when any value needs the full check."""
    names = {str(c).strip().lower(): c for c in raw.columns}
    if len(names) != len(raw.columns) or not set(ID_COLUMNS) <= names.keys():
        return None
    out: dict[str, object] = {}
    for name, known in zip(ID_COLUMNS, (brands, influencers), strict=True):
        s = raw[names[name]]
        if not isinstance(s.dtype, pd.StringDtype):
            return None
        codes, uniques = pd.factorize(s)
        if (codes < 0).any() or (known.get_indexer(uniques) < 0).any():
            return None
        out[name] = s.astype("str").reset_index(drop=True)
    as_of = _fast_as_of(raw[names["as_of"]] if "as_of" in names else None, len(raw))
    if as_of is None:
        return None
    out["as_of"] = as_of.fillna(latest)
    return pd.DataFrame(out)


def _fast_as_of(s: pd.Series | None, n: int) -> pd.Series | None:
    if s is None:
        return pd.Series(pd.NaT, index=pd.RangeIndex(n), dtype="datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        ts = utc_series(s)
    elif isinstance(s.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(s)
        parsed = pd.to_datetime(pd.Index(uniques), utc=True, format="ISO8601", errors="coerce")
        if parsed.isna().any():
            return None
        ts = pd.Series(parsed.take(codes, allow_fill=True, fill_value=pd.NaT), index=s.index)
    else:
        return None
    if (ts.notna() & ~in_time_range(ts)).any():
        return None
    return ts.astype("datetime64[ns, UTC]").reset_index(drop=True)


def _merge(problems: list[Problem]) -> list[Problem]:
    """One problem per (column, rule) over all chunks: counts added, first ids kept."""
    merged: dict[tuple[str, str], Problem] = {}
    for p in problems:
        key = (p.column, p.rule)
        if key in merged:
            q = merged[key]
            ids = (q.first_ids + p.first_ids)[:MAX_IDS_SHOWN]
            merged[key] = Problem(q.table, q.file, q.column, q.rule, q.count + p.count, ids)
        else:
            merged[key] = p
    return list(merged.values())


def iter_pair_chunks(path: Path, ds: Dataset, chunk_size: int,
                     on_invalid: OnInvalid = "fail") -> tuple[Chunks, int | None]:
    """(valid pairs, rejects) chunk by chunk, and the file's row count if known up front.

    In "fail" mode the first chunk with a broken rule ends the valid chunks; the rest of the
    file is still checked, and one ValidationError counting every broken row is raised.
    """
    raw_chunks, total = read_raw_chunks(path, chunk_size)
    brands = pd.Index(ds.brands["brand_id"])
    influencers = pd.Index(ds.influencers["influencer_id"])
    latest = ds.latest_timestamp

    def chunks() -> Chunks:
        problems: list[Problem] = []
        empty = True
        for raw in raw_chunks:
            empty = False
            fast = None if problems else fast_pairs(raw, brands, influencers, latest)
            if fast is not None:
                yield fast, pd.DataFrame()
                continue
            try:
                pairs, rejects = validate_pairs(raw, ds, str(path), on_invalid)
            except ValidationError as exc:
                if any(p.fatal for p in exc.problems):
                    raise
                problems.extend(exc.problems)
                continue
            if not problems:
                yield pairs, rejects
        if empty:  # a header without rows: checked once, for the contract's messages
            yield validate_pairs(read_raw(path), ds, str(path), on_invalid)
        if problems:
            raise ValidationError(_merge(problems))

    return chunks(), total

