"""Reading contract tables (a CSV file, a Parquet file or a folder of Parquet files, local or
at an fsspec URL), and atomic writes (temp file + rename)."""

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

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path, self.reason = location(path), reason
        super().__init__(f"{path}: {reason}")


# How every CSV table is read: cells as written, strings; only an empty cell is missing.
CSV_OPTIONS = {"dtype": str, "keep_default_na": False, "na_values": [""],
               "encoding": "utf-8-sig", "skipinitialspace": False}


URL_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
PARQUET_PART = "part-{:05d}.parquet"  # how this project names the files of a Parquet folder


def is_url(location: str | Path) -> bool:
    """True for an fsspec URL such as s3://bucket/data or file:///srv/data."""
    return isinstance(location, str) and bool(URL_PATTERN.match(location))


def location(value: str | Path) -> str | Path:
    """A data folder as given: an fsspec URL stays a string (Path would fold its '//'), any
    other value becomes a Path."""
    return value if is_url(value) else Path(value)


def join(base: str | Path, name: str) -> str | Path:
    """`base`/`name` for a local folder or a URL."""
    return f"{str(base).rstrip('/')}/{name}" if is_url(base) else Path(base) / name


def filesystem(path: str | Path):
    """(fsspec filesystem, path on it) of a URL or local path; a clear error when the URL's
    protocol needs a package that is not installed (s3fs for s3://, gcsfs for gs://)."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(str(path))
    except (ImportError, ValueError) as exc:
        raise ReadError(Path(str(path)) if not is_url(path) else path, str(exc)) from exc


def table_files(data_dir: str | Path, name: str) -> list[str | Path]:
    """Every form of table `name` present in `data_dir`, the one read first: a folder `name/`
    of Parquet files, `name.parquet`, `name.csv`. `data_dir` may be an fsspec URL."""
    forms = ((name, True), (f"{name}.parquet", False), (f"{name}.csv", False))
    if not is_url(data_dir):
        found = [Path(data_dir) / c for c, _ in forms]
        return [c for c, (_, folder) in zip(found, forms, strict=True)
                if (c.is_dir() if folder else c.is_file())]
    fs, root = filesystem(data_dir)
    present = []
    for candidate, folder in forms:
        at = f"{root.rstrip('/')}/{candidate}"
        if fs.isdir(at) if folder else fs.isfile(at):
            present.append(join(data_dir, candidate))
    return present


def is_folder(path: str | Path) -> bool:
    """True when `path` (local or URL) is a folder: a Parquet dataset."""
    if not is_url(path):
        return Path(path).is_dir()
    fs, at = filesystem(path)
    return fs.isdir(at)


def folder_exists(path: str | Path) -> bool:
    """is_folder, False where the location cannot be reached at all."""
    try:
        return is_folder(path)
    except (ReadError, OSError):
        return False


def parquet_parts(path: str | Path) -> list[str]:
    """The data files of a Parquet folder, in name order: files ending .parquet (or without a
    suffix, as some writers name them), skipping hidden and `_` files (_SUCCESS, _metadata,
    .crc) the way Spark, Dask and pyarrow do. Raises ReadError when there is none."""
    fs, at = filesystem(path)
    at = at.rstrip("/")
    files = sorted(f for f in fs.find(at) if not any(
        piece.startswith((".", "_")) for piece in f[len(at) + 1:].split("/")))
    parts = [f for f in files if f.endswith(".parquet") or "." not in f.rsplit("/", 1)[-1]]
    if not parts:
        raise ReadError(path, "the folder holds no Parquet file (a table folder holds "
                        "part-00000.parquet, part-00001.parquet, ...)")
    return parts


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read a table as written: CSV cells as strings (missing = NA), Parquet as stored; a
    folder (local or URL) is a Parquet dataset whose parts are read in name order."""
    if is_url(path) or Path(path).is_dir():
        return read_parquet_folder(path)
    path = Path(path)
    with read_errors(path):
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        df = pd.read_csv(path, **CSV_OPTIONS)
        return df.set_axis(header_as_written(df.columns, path), axis=1)


def read_parquet_folder(path: str | Path) -> pd.DataFrame:
    """Every part of a Parquet folder (or a single Parquet file at a URL) as one frame; the
    keys of hive-style sub-folders (`posts/platform=tiktok/...`) become columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not is_folder(path):
        fs, at = filesystem(path)
        with read_errors(path), fs.open(at, "rb") as fh:
            return pq.read_table(fh).to_pandas()
    tables = [read_part(path, part) for part in parquet_parts(path)]
    with read_errors(path):
        return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def part_name(folder: str | Path, part: str) -> str | Path:
    """How a part (as `parquet_parts` lists it) of `folder` is named: a URL or a path."""
    if not is_url(folder):
        return Path(part)
    fs, _ = filesystem(folder)
    return fs.unstrip_protocol(part)


def read_part(folder: str | Path, part: str):
    """One part of a Parquet folder as an Arrow table, with its hive keys as columns;
    ReadError naming the part when it cannot be read."""
    import pyarrow.dataset as pds

    fs, at = filesystem(folder)
    with read_errors(part_name(folder, part)):
        return pds.dataset([part], filesystem=fs, format="parquet", partitioning="hive",
                           partition_base_dir=at.rstrip("/")).to_table()


@contextlib.contextmanager
def read_errors(path: str | Path) -> Iterator[None]:
    """Turn pandas' errors while reading `path` into a ReadError naming the file and why."""
    try:
        yield
    except pd.errors.EmptyDataError as exc:
        raise ReadError(path, "the file is empty (no header row)") from exc
    except UnicodeDecodeError as exc:
        raise ReadError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as "
                        "UTF-8 CSV") from exc
    except ImportError as exc:
        raise ReadError(path, f"cannot be read: {exc}") from exc
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
