"""Reading contract tables from CSV or Parquet, and atomic writes (temp file + rename)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)


class ReadError(ValueError):
    """A table file that cannot be read at all (encoding, delimiter, corrupt Parquet)."""


def find_table_file(data_dir: Path, name: str) -> Path | None:
    """The file holding table `name` in `data_dir`: Parquet wins over CSV; None if absent."""
    for suffix in (".parquet", ".csv"):
        path = Path(data_dir) / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def read_raw(path: Path) -> pd.DataFrame:
    """Read a table file as written: CSV cells as strings (missing = NA), Parquet as stored."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        df = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
            skipinitialspace=False,
        )
        return _with_header_as_written(df, path)
    except pd.errors.EmptyDataError as exc:
        raise ReadError(f"{path}: the file is empty (no header row)") from exc
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it "
                        "as UTF-8 CSV") from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReadError(f"{path}: cannot be read as a table: {first}") from exc


def _with_header_as_written(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Undo pandas' renaming of a repeated CSV header (`id`, `id.1`) so it can be reported."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), [])
    if len(header) == len(df.columns) and len(set(header)) < len(header):
        df.columns = header
    return df


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private; give it the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> Path:
    """Write `df` to Parquet at `path` atomically; an earlier file there survives a failure."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    logger.debug("wrote %d rows to %s", len(df), path)
    return Path(path)


def write_csv_atomic(df: pd.DataFrame, path: Path) -> Path:
    """Write `df` to CSV at `path` atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return Path(path)


def write_table_atomic(df: pd.DataFrame, path: Path) -> Path:
    """Write Parquet or CSV by the suffix of `path`, atomically."""
    if Path(path).suffix == ".csv":
        return write_csv_atomic(df, path)
    return write_parquet_atomic(df, path)
