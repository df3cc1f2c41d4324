"""Reading contract tables from CSV or Parquet, and atomic writes (temp file + rename)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)


class ReadError(ValueError):
    """A table file that cannot be read at all (encoding, delimiter, corrupt Parquet)."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path}: {reason}")


# How every CSV table is read: cells as written, strings; only an empty cell is missing.
CSV_OPTIONS = {"dtype": str, "keep_default_na": False, "na_values": [""],
               "encoding": "utf-8-sig", "skipinitialspace": False}


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
    with read_errors(path):
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        df = pd.read_csv(path, **CSV_OPTIONS)
        return df.set_axis(header_as_written(df.columns, path), axis=1)


@contextlib.contextmanager
def read_errors(path: Path) -> Iterator[None]:
    """Turn pandas' errors while reading `path` into a ReadError naming the file and why."""
    try:
        yield
    except pd.errors.EmptyDataError as exc:
        raise ReadError(path, "the file is empty (no header row)") from exc
    except UnicodeDecodeError as exc:
        raise ReadError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as "
                        "UTF-8 CSV") from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReadError(path, f"cannot be read as a table: {first}") from exc


def header_as_written(columns: pd.Index, path: Path) -> pd.Index:
    """The CSV header of `path` as written where pandas renamed a repeated name (`id`, `id.1`),
    so that the repeat can be reported; else `columns` unchanged."""
    import csv

    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), [])
    if len(header) == len(columns) and len(set(header)) < len(header):
        return pd.Index(header)
    return columns


def _temp_prefix(path: Path) -> str:
    """Temp files of `path` are hidden and carry the writer's process id: `.NAME.PID.*.tmp`."""
    return f".{path.name}.{os.getpid()}."


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def sweep_stale_temps(path: Path) -> list[Path]:
    """Remove the temp files (or folders) beside `path` left by a writer of `path` that was
    killed (its process no longer runs). Returns what was removed."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\..*\.tmp")
    removed = []
    if not path.parent.is_dir():
        return removed
    for p in path.parent.iterdir():
        m = pattern.fullmatch(p.name)
        if m and int(m.group(1)) != os.getpid() and not _process_alive(int(m.group(1))):
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)
            logger.info("removed %s, left by a killed writer", p)
            removed.append(p)
    return removed


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


@contextlib.contextmanager
def staging_dir(out_dir: Path) -> Iterator[Path]:
    """Yield an empty folder beside `out_dir` to write several files into; when the block
    succeeds, the folder becomes `out_dir` (renamed whole if `out_dir` does not exist, else
    its files are renamed into `out_dir` one by one); when it fails, the folder is removed."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a folder", str(out_dir))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(out_dir)
    stage = Path(tempfile.mkdtemp(prefix=_temp_prefix(out_dir), suffix=".tmp", dir=out_dir.parent))
    try:
        yield stage
        os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it private
        if not out_dir.exists():
            os.replace(stage, out_dir)
        else:
            for f in sorted(stage.iterdir()):
                os.replace(f, out_dir / f.name)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.
    Temp files of earlier writers that were killed are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes the file private; give it the permissions a plain open() would
        os.chmod(tmp_path, 0o666 & ~_umask())
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
