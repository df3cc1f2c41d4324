"""Batch scoring: a pairs file in, calibrated scores out (the nightly job: `recommender.nightly`).

The input is read and validated chunk by chunk, every chunk is scored with the features of
training and the ranker (`build_features`) and the registered model, and the output is
streamed into a temporary Parquet file beside the target that is renamed onto it only when
every chunk succeeded: memory stays bounded by the chunk size, and a failed or killed job
leaves an earlier file at that path as it was. Chunks are scored here or, with
engine="dask", on a Dask cluster (`recommender.distributed`); the output is the same.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from recommender import config
from recommender.dataset import Dataset
from recommender.errors import UserError, terminate_as_interrupt
from recommender.features import build_features, pair_context
from recommender.features.assemble import with_post_history
from recommender.inference import TreePredictor
from recommender.io import atomic_path, write_csv_atomic
from recommender.model import ConversionModel, apply_calibration
from recommender.pairs import iter_pair_chunks
from recommender.validate import OnInvalid, load_dataset, rejects_path_for

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 200_000
ENGINES = ("local", "dask")
KEY_FIELDS = [pa.field("brand_id", pa.string()), pa.field("influencer_id", pa.string()),
              pa.field("as_of", pa.timestamp("ns", tz="UTC"))]
MODEL_FIELDS = [pa.field("model_name", pa.string()), pa.field("model_version", pa.string())]
SCORES_SCHEMA = pa.schema([*KEY_FIELDS, pa.field("score", pa.float64()), *MODEL_FIELDS])
TOP_K_SCHEMA = pa.schema([pa.field("brand_id", pa.string()), pa.field("rank", pa.int32()),
                          pa.field("influencer_id", pa.string()), pa.field("score", pa.float64()),
                          pa.field("as_of", pa.timestamp("ns", tz="UTC")), *MODEL_FIELDS])


# --- the model: URI -> ConversionModel, name and version ------------------------------------


@dataclass(frozen=True)
class ModelRef:
    """Which model scored: registered name and version (or the run / folder it came from)."""

    name: str
    version: str


def resolve_model(model_uri: str) -> tuple[ConversionModel, ModelRef]:
    """Load the conversion model behind `model_uri` and name it.

    models:/NAME@ALIAS and models:/NAME/VERSION are resolved to a version number with the
    registry first (so an alias that moves meanwhile cannot mix two versions); runs:/ URIs
    and MLflow model folders load their conversion_model artifact; a folder holding
    booster.txt + model.json (ConversionModel.save) loads directly.
    """
    from recommender.model import BOOSTER_FILE

    path = Path(model_uri)
    if path.is_dir() and (path / BOOSTER_FILE).is_file():
        return ConversionModel.load(path), ModelRef(path.resolve().name, "local")
    from recommender.pyfunc import load_conversion_model
    from recommender.registry import resolve_version

    if model_uri.startswith("models:/"):
        name, version = resolve_version(model_uri)
        model = load_conversion_model(f"models:/{name}/{version}")
        return model, ModelRef(name, version)
    if model_uri.startswith("runs:/"):
        run_id, _, artifact = model_uri[len("runs:/"):].strip("/").partition("/")
        return load_conversion_model(model_uri), ModelRef(artifact or "model", run_id)
    return load_conversion_model(model_uri), ModelRef(path.name, "local")


# --- scoring one chunk (here or on a Dask worker) -------------------------------------------


@dataclass
class Scorer:
    """What scoring a chunk needs: the data, its indexed context (with the sorted post
    history, built once), the model and its name. Picklable: Dask ships it to each worker."""

    ds: Dataset
    model: ConversionModel
    ref: ModelRef
    backend: str = "auto"
    context: Any = field(default=None, repr=False)  # PairContext; built from ds if None
    predictor: TreePredictor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.context is None:
            self.context = with_post_history(pair_context(self.ds), self.ds)
        if self.predictor is None:
            self.predictor = TreePredictor(self.model.booster_, self.backend)

    def predict(self, pairs: pd.DataFrame, num_threads: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated probability, raw LightGBM probability) of each pair, in order."""
        X = build_features(self.ds, pairs, self.context)
        threads = self.model.threads_for(len(pairs), num_threads)
        raw = self.predictor.predict(self.model.feature_matrix(X), threads)
        return apply_calibration(self.model.calibration_, raw), raw



def model_columns(ref: ModelRef, n: int) -> list[pa.Array]:
    """The model_name and model_version columns of `n` output rows."""
    return [pa.repeat(pa.scalar(ref.name, pa.string()), n),
            pa.repeat(pa.scalar(ref.version, pa.string()), n)]


def key_columns(pairs: pd.DataFrame) -> list[pa.Array]:
    return [pa.array(pairs["brand_id"], pa.string()),
            pa.array(pairs["influencer_id"], pa.string()),
            pa.array(pd.to_datetime(pairs["as_of"], utc=True).astype("datetime64[ns, UTC]"),
                     pa.timestamp("ns", tz="UTC"))]


def score_chunk(scorer: Scorer, pairs: pd.DataFrame, num_threads: int | None = None
                ) -> tuple[pa.Table, str]:
    """One chunk of valid pairs -> (rows of SCORES_SCHEMA, the inference backend used)."""
    p, _ = scorer.predict(pairs, num_threads)
    columns = [*key_columns(pairs), pa.array(p, pa.float64()),
               *model_columns(scorer.ref, len(pairs))]
    return pa.Table.from_arrays(columns, schema=SCORES_SCHEMA), scorer.predictor.backend


# --- running chunks and writing them ----------------------------------------------------------


@dataclass
class ScoreSummary:
    """What one scoring job did."""

    out: Path
    rows: int
    rejected: int
    rejects_path: Path | None
    model: ModelRef
    backend: str
    engine: str
    seconds: float  # wall time of the whole job
    setup_seconds: float  # of which loading the data and the model, indexing the data


def run_chunks(fn: Callable, scorer: Scorer, chunks: Iterable, engine: str,
                scheduler: str | None, workers: int | None) -> Iterator[tuple[pa.Table, str]]:
    """fn(scorer, chunk) for every chunk, in input order, here or on Dask."""
    if engine == "local":
        return (fn(scorer, chunk) for chunk in chunks)
    from recommender.distributed import dask_map

    return dask_map(fn, scorer, chunks, scheduler=scheduler, workers=workers)


def check_engine(engine: str, scheduler: str | None, workers: int | None) -> None:
    if engine not in ENGINES:
        raise UserError(f"--engine must be one of {', '.join(ENGINES)}, not '{engine}'")
    if engine == "local" and (scheduler or workers):
        raise UserError("--scheduler and --workers need --engine dask")
    if scheduler and workers:
        raise UserError("give --scheduler (an existing cluster) or --workers (a local one), "
                        "not both")


def write_stream(out: Path, schema: pa.Schema, tables: Iterable[tuple[pa.Table, str]],
           progress: Callable[[int], None], before_rename: Callable[[], None]) -> tuple[int, str]:
    """Stream tables into a temporary Parquet file, renamed onto `out` at the end."""
    import pyarrow.parquet as pq

    rows, backends = 0, set()
    with atomic_path(Path(out)) as tmp:
        with pq.ParquetWriter(tmp, schema) as writer:
            for table, backend in tables:
                writer.write_table(table)
                rows += table.num_rows
                backends.add(backend)
                progress(table.num_rows)
        before_rename()
    return rows, "+".join(sorted(backends)) or "none"


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    from recommender.progress import progress_enabled

    if not progress_enabled():
        yield lambda n: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _write_rejects(out: Path, parts: list[pd.DataFrame]) -> Path | None:
    rejects = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if not len(rejects):
        return None
    path = rejects_path_for(Path(out))
    write_csv_atomic(rejects, path)
    logger.warning("%d rejected rows written to %s", len(rejects), path)
    return path


def score_pairs(
    pairs_path: Path,
    out_path: Path,
    model_uri: str = config.DEFAULT_MODEL_URI,
    data_dir: Path = config.RAW_DIR,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_invalid: OnInvalid = "fail",
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    backend: str = "auto",
) -> ScoreSummary:
    """Score every pair of `pairs_path` (CSV or Parquet: brand_id, influencer_id[, as_of]) and
    write brand_id, influencer_id, as_of, score, model_name, model_version to `out_path`.

    Invalid pairs stop the job before anything is written (the error counts them over the
    whole file); with on_invalid="quarantine" they go to a rejects file beside the output.
    """
    check_engine(engine, scheduler, workers)
    start = time.perf_counter()
    ds = load_dataset(data_dir, on_invalid=on_invalid)
    model, ref = resolve_model(model_uri)
    scorer = Scorer(ds, model, ref, backend)
    setup = time.perf_counter() - start
    rejects = [ds.rejects]
    chunks, total = iter_pair_chunks(Path(pairs_path), ds, chunk_size, on_invalid)

    def valid_pairs() -> Iterator[pd.DataFrame]:
        for pairs, bad in chunks:
            if len(bad):
                rejects.append(bad)
            yield pairs

    holder: dict[str, Path | None] = {}
    with terminate_as_interrupt(), progress_bar("scoring pairs", total) as advance:
        tables = run_chunks(score_chunk, scorer, valid_pairs(), engine, scheduler, workers)
        rows, used = write_stream(Path(out_path), SCORES_SCHEMA, tables, advance,
                            lambda: holder.update(path=_write_rejects(out_path, rejects)))
    n_rejected = sum(len(r) for r in rejects)
    return ScoreSummary(Path(out_path), rows, n_rejected, holder.get("path"), ref, used, engine,
                        time.perf_counter() - start, setup)
