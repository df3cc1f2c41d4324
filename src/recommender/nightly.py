"""The nightly job: every brand's top K of the catalogue, with the ranker's two stages.

Per run, the influencer side of the catalogue and the brand side are computed once, as of
the job's instant, and the ranker's first stage (its surrogate, fitted to the model on this
run's sides) shortlists each brand's candidates. The model then scores the shortlisted
pairs in chunks of about `chunk_size` pairs: several brands per chunk when their
shortlists are small, a brand's candidates split over several chunks when they are many
(each chunk keeps its best K per brand, the client merges them). Chunks run here or on
Dask, where every worker holds the two sides, never the posts. `exhaustive=True` skips the
first stage: every candidate goes through the model (the brute-force reference).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from recommender import config
from recommender.batch import (
    DEFAULT_CHUNK_SIZE,
    TOP_K_SCHEMA,
    ModelRef,
    ScoreSummary,
    check_engine,
    key_columns,
    model_columns,
    progress_bar,
    resolve_model,
    run_chunks,
    write_stream,
)
from recommender.coerce import utc_timestamp
from recommender.dataset import Dataset
from recommender.errors import UserError, terminate_as_interrupt
from recommender.features import PairContext, brand_profiles, pair_context, pair_features
from recommender.features.assemble import influencer_features, with_post_history
from recommender.inference import TreePredictor
from recommender.model import ConversionModel, apply_calibration
from recommender.ranker import SHORTLIST_SIZE
from recommender.validate import load_dataset

logger = logging.getLogger(__name__)


def catalogue(ds: Dataset, min_followers: int = config.MICRO_MIN_FOLLOWERS,
              max_followers: int = config.MICRO_MAX_FOLLOWERS) -> np.ndarray:
    """Influencer ids the nightly job ranks: the ranker's default filter (micro-influencers)."""
    f = ds.influencers["followers"]
    return ds.influencers["influencer_id"].to_numpy()[(f >= min_followers) & (f <= max_followers)]


@dataclass
class NightlyScorer:
    """What scoring a chunk of the nightly job needs: both sides as of the job's instant, the
    collaboration lookups of pair features, the model. Picklable: Dask ships it to workers."""

    influencer_side: pd.DataFrame  # the catalogue, one row per candidate, in catalogue order
    brand_side: pd.DataFrame  # one row per brand
    context: PairContext  # without the post history: pair features do not read posts
    model: ConversionModel
    ref: ModelRef
    backend: str = "auto"
    predictor: TreePredictor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.predictor is None:
            self.predictor = TreePredictor(self.model.booster_, self.backend)

    def predict(self, brand: np.ndarray, rows: np.ndarray, num_threads: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """(calibrated, raw) probability of each (brand_side row, catalogue row) pair."""
        side = self.influencer_side.take(rows).reset_index(drop=True)
        pairs = pd.DataFrame({"brand_id": self.brand_side["brand_id"].to_numpy()[brand],
                              "influencer_id": side["influencer_id"].to_numpy(),
                              "as_of": side["as_of"]})
        X = pair_features(side, self.brand_side, self.context, pairs)
        threads = self.model.threads_for(len(pairs), num_threads)
        raw = self.predictor.predict(self.model.feature_matrix(X), threads)
        return apply_calibration(self.model.calibration_, raw), raw


@dataclass(frozen=True)
class Segment:
    """One brand (row of the brand side) against some of its candidates (catalogue rows)."""

    brand: int
    rows: np.ndarray


@dataclass(frozen=True)
class CandidateChunk:
    """A chunk of the nightly job: segments of about `chunk_size` pairs in all."""

    segments: tuple[Segment, ...]
    top_k: int


Best = tuple[int, np.ndarray, np.ndarray, np.ndarray]  # brand, rows, calibrated, raw


def _best(rows: np.ndarray, p: np.ndarray, raw: np.ndarray, k: int) -> np.ndarray:
    """Positions of the best `k`: higher calibrated, then higher raw, then catalogue order."""
    return np.lexsort((rows, -raw, -p))[:k]


def best_of_chunk(scorer: NightlyScorer, chunk: CandidateChunk, num_threads: int | None = None
                  ) -> tuple[list[Best], str]:
    """Each segment's best `top_k` candidates (brand, rows, calibrated, raw), in order."""
    brand = np.concatenate([np.full(len(s.rows), s.brand, np.int64) for s in chunk.segments])
    rows = np.concatenate([s.rows for s in chunk.segments])
    p, raw = scorer.predict(brand, rows, num_threads)
    out, start = [], 0
    for s in chunk.segments:
        end = start + len(s.rows)
        keep = start + _best(rows[start:end], p[start:end], raw[start:end], chunk.top_k)
        out.append((s.brand, rows[keep], p[keep], raw[keep]))
        start = end
    return out, scorer.predictor.backend


def candidate_chunks(shortlists: Iterable[tuple[int, np.ndarray]], top_k: int,
                     chunk_size: int) -> Iterator[CandidateChunk]:
    """(brand, candidate rows) in brand order -> chunks of about `chunk_size` pairs; a brand
    with more candidates than that is split into several segments."""
    pending: list[Segment] = []
    size = 0
    for brand, rows in shortlists:
        for start in range(0, max(len(rows), 1), chunk_size):
            piece = rows[start:start + chunk_size]
            if size and size + len(piece) > chunk_size:
                yield CandidateChunk(tuple(pending), top_k)
                pending, size = [], 0
            pending.append(Segment(brand, piece))
            size += len(piece)
    if pending:
        yield CandidateChunk(tuple(pending), top_k)


def merge_best(results: Iterable[tuple[list[Best], str]], scorer: NightlyScorer, top_k: int
               ) -> Iterator[tuple[pa.Table, str]]:
    """Chunk results in brand order -> rows of TOP_K_SCHEMA, each brand written once all its
    segments are in (its best K of their best K: the same as the best K of all)."""
    current: list[Best] = []
    done: list[Best] = []

    def close() -> None:
        if current:
            rows, p, raw = (np.concatenate([c[i] for c in current]) for i in (1, 2, 3))
            keep = _best(rows, p, raw, top_k)
            done.append((current[0][0], rows[keep], p[keep], raw[keep]))
            current.clear()

    backend = "none"
    for bests, backend in results:
        for best in bests:
            if current and current[0][0] != best[0]:
                close()
            current.append(best)
        if done:
            yield _top_k_table(scorer, done), backend
            done.clear()
    close()
    if done:
        yield _top_k_table(scorer, done), backend


def _top_k_table(scorer: NightlyScorer, bests: list[Best]) -> pa.Table:
    brand = np.concatenate([np.full(len(b[1]), b[0], np.int64) for b in bests])
    rows = np.concatenate([b[1] for b in bests])
    rank = np.concatenate([np.arange(1, len(b[1]) + 1, dtype=np.int32) for b in bests])
    frame = pd.DataFrame({"brand_id": scorer.brand_side["brand_id"].to_numpy()[brand],
                          "influencer_id": scorer.influencer_side["influencer_id"].to_numpy()[
                              rows],
                          "as_of": scorer.influencer_side["as_of"].take(rows).to_numpy(
                              "datetime64[ns]")})
    b, influencer, as_of = key_columns(frame)
    p = np.concatenate([b_[2] for b_ in bests])
    return pa.Table.from_arrays([b, pa.array(rank), influencer, pa.array(p, pa.float64()),
                                 as_of, *model_columns(scorer.ref, len(frame))],
                                schema=TOP_K_SCHEMA)


def _shortlists(scorer: NightlyScorer, ds: Dataset, top_k: int, shortlist_size: int,
                exhaustive: bool) -> Iterator[tuple[int, np.ndarray]]:
    """(brand, candidate rows) of every brand, in brand order: the ranker's shortlist (best
    `shortlist_size` by the first stage, plus the brand's past partners), or every row."""
    n = len(scorer.influencer_side)
    everyone = np.arange(n)
    k = max(shortlist_size, 3 * top_k)
    if exhaustive or n <= k:
        for brand in range(len(scorer.brand_side)):
            yield brand, everyone
        return
    from recommender.first_stage import FirstStage
    from recommender.shortlist import fit_shortlist, sample_pairs

    side, brands = scorer.influencer_side, scorer.brand_side
    surrogate = fit_shortlist(scorer.model, side, brands, scorer.context,
                              sample_pairs(side, brands))
    stage = FirstStage(surrogate, side, scorer.context)
    ids = pd.Index(side["influencer_id"])
    c = ds.collaborations
    partners = pd.Series(ids.get_indexer(c["influencer_id"])).groupby(
        c["brand_id"].to_numpy()).agg(lambda r: np.unique(r[r >= 0]))
    for brand in range(len(brands)):
        s = stage.scores(everyone, brands.iloc[[brand]].reset_index(drop=True))
        keep = [np.argpartition(-s, k - 1)[:k]]
        brand_id = brands["brand_id"].iloc[brand]
        if brand_id in partners.index:
            keep.append(partners[brand_id])
        yield brand, np.unique(np.concatenate(keep))


def score_all_brands(
    out_path: Path,
    top_k: int = config.DEFAULT_TOP_N,
    model_uri: str = config.DEFAULT_MODEL_URI,
    data_dir: str | Path = config.RAW_DIR,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    as_of: pd.Timestamp | str | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    backend: str = "auto",
    shortlist_size: int = SHORTLIST_SIZE,
    exhaustive: bool = False,
) -> ScoreSummary:
    """The nightly job: for every brand, its `top_k` influencers of the filtered catalogue
    (brand_id, rank, influencer_id, score, as_of, model_name, model_version)."""
    check_engine(engine, scheduler, workers)
    if top_k < 1:
        raise UserError(f"--top-k must be at least 1, not {top_k}")
    start = time.perf_counter()
    ds = load_dataset(data_dir)
    model, ref = resolve_model(model_uri)
    when = utc_timestamp(ds.latest_timestamp if as_of is None else as_of)
    candidates = catalogue(ds)
    if not len(candidates):
        raise UserError(f"{data_dir}: no influencer has {config.MICRO_MIN_FOLLOWERS:,} to "
                        f"{config.MICRO_MAX_FOLLOWERS:,} followers: the catalogue is empty")
    ctx = pair_context(ds)
    side = influencer_features(ds, pd.DataFrame({"influencer_id": candidates, "as_of": when}),
                               with_post_history(ctx, ds))
    brands = brand_profiles(ds, pd.DataFrame({"brand_id": ds.brands["brand_id"],
                                              "as_of": when}), ctx)
    scorer = NightlyScorer(side, brands, ctx, model, ref, backend)
    chunks = candidate_chunks(_shortlists(scorer, ds, top_k, shortlist_size, exhaustive),
                              top_k, chunk_size)
    setup = time.perf_counter() - start
    with terminate_as_interrupt(), progress_bar("ranking brands", len(brands) * min(
            top_k, len(candidates))) as advance:
        results = run_chunks(best_of_chunk, scorer, chunks, engine, scheduler, workers)
        tables = merge_best(results, scorer, top_k)
        rows, used = write_stream(Path(out_path), TOP_K_SCHEMA, tables, advance, lambda: None)
    return ScoreSummary(Path(out_path), rows, 0, None, ref, used, engine,
                        time.perf_counter() - start, setup)
