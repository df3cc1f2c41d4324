"""The Dask engine: chunks scored in parallel on a cluster, and training with lightgbm.dask.

Scoring: the Scorer (data, context, model) is sent once to every worker; the client reads
and validates the chunks, submits each with a bounded number in flight, and collects the
results in input order, so the written file is the local engine's, byte for byte.

Training: `lightgbm.dask` has no early stopping, so the number of rounds comes from the
tuned parameters when they name it, else from a local fit with early stopping on the
validation window; the distributed booster is then calibrated on the validation window
exactly like a local one and returned as a ConversionModel.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from recommender.errors import UserError

if TYPE_CHECKING:
    from recommender.model import ConversionModel
    from recommender.train import TrainingData

logger = logging.getLogger(__name__)

IN_FLIGHT_PER_WORKER = 2
ROUNDS_KEYS = ("num_boost_round", "num_iterations", "n_estimators", "num_rounds")
ROUNDS_FROM_PARAMS = "tuned parameters"
ROUNDS_FROM_LOCAL_FIT = "local validation fit (early stopping)"


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None
                ) -> Iterator[Any]:
    """A Client of the cluster at `scheduler`, or of a LocalCluster of `workers` processes
    (one thread each) on this machine, closed at the end."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            yield client
        return
    n = workers or 2
    if n < 1:
        raise UserError(f"--workers must be at least 1, not {n}")
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def n_workers(client) -> int:
    """Workers of the cluster (at least 1)."""
    return max(1, len(client.scheduler_info(n_workers=-1)["workers"]))


def dask_map(fn: Callable, scorer: Any, chunks: Iterable, *, scheduler: str | None = None,
             workers: int | None = None, client: Any = None, scatter_chunks: bool = True
             ) -> Iterator[Any]:
    """fn(scorer, chunk, 1) for every chunk on the cluster (`client`'s, else one opened for
    the job), results in input order. Small chunks (`scatter_chunks=False`) travel inside
    their task: a worker lost mid-job loses nothing that the scheduler cannot rerun
    elsewhere (the scorer is on every worker).

    At most IN_FLIGHT_PER_WORKER chunks per worker are submitted ahead of the one being
    collected, so memory stays bounded whatever the input size."""
    opened = contextlib.nullcontext(client) if client is not None else dask_client(
        scheduler, workers)
    with opened as client:
        remote = client.scatter(scorer, broadcast=True, hash=False)
        limit = IN_FLIGHT_PER_WORKER * n_workers(client)
        pending: collections.deque = collections.deque()
        for chunk in chunks:
            data = client.scatter(chunk, hash=False) if scatter_chunks else chunk
            pending.append(client.submit(fn, remote, data, 1, pure=False))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def rounds_for(data: TrainingData | None, params: dict[str, Any] | None, seed: int,
               max_rounds: int) -> tuple[int, str]:
    """How many boosting rounds the distributed fit runs, and where that number comes from."""
    for key in ROUNDS_KEYS:
        if params and key in params:
            return int(params[key]), ROUNDS_FROM_PARAMS
    from recommender.train import fit

    local = fit(data, params=params, seed=seed, num_boost_round=max_rounds,
                calibration="platt")  # only its number of rounds is used
    return local.best_iteration_, ROUNDS_FROM_LOCAL_FIT


def fit_dask(data: TrainingData, params: dict[str, Any] | None = None, seed: int = 0, *,
             max_rounds: int = 1000, scheduler: str | None = None, workers: int | None = None
             ) -> ConversionModel:
    """A ConversionModel trained with lightgbm.dask on the train window (same features and
    parameters as `recommender.train.fit`), calibrated on the validation window.

    The model records `rounds_source_` (ROUNDS_FROM_PARAMS or ROUNDS_FROM_LOCAL_FIT)."""
    import dask.array as da
    import lightgbm as lgb

    from recommender.features import CATEGORICAL_FEATURES, FEATURE_COLUMNS, LABEL
    from recommender.model import ConversionModel
    from recommender.train import with_domain_constraints

    rounds, source = rounds_for(data, params, seed, max_rounds)
    clean = {k: v for k, v in with_domain_constraints(params).items() if k not in ROUNDS_KEYS}
    model = ConversionModel(params=clean, seed=seed, num_boost_round=rounds,
                            categorical_features=CATEGORICAL_FEATURES)
    X_train = data.train[FEATURE_COLUMNS]
    y_train, y_valid = model._setup(X_train, data.train[LABEL], data.valid[FEATURE_COLUMNS],
                                    data.valid[LABEL])
    matrix = model.feature_matrix(X_train)
    lgb_params = {k: v for k, v in model.params_.items() if k not in ("num_threads", "seed")}
    cat_idx = model.categorical_indices()
    with dask_client(scheduler, workers) as client:
        rows = math.ceil(len(matrix) / n_workers(client))
        X = da.from_array(matrix, chunks=(rows, matrix.shape[1]))
        y = da.from_array(y_train.astype(np.int64), chunks=(rows,))
        clf = lgb.DaskLGBMClassifier(client=client, n_estimators=rounds, random_state=seed,
                                     **lgb_params)
        clf.fit(X, y, feature_name=model.features_, categorical_feature=cat_idx)
        booster = clf.booster_
    model._finish(booster, booster.current_iteration(), data.valid[FEATURE_COLUMNS], y_valid)
    model.rounds_source_ = source
    logger.info("trained %d trees with lightgbm.dask (rounds from %s), calibration %s",
                model.best_iteration_, source, model.calibration_["method"])
    return model
