"""The training run: time split, fit and calibrate, evaluate, log to MLflow, gate the registry."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recommender import config
from recommender.dataset import Dataset
from recommender.errors import UserError
from recommender.evaluation import (
    Evaluation,
    evaluate_window,
    has_signal,
    read_truth,
)
from recommender.features import (
    CATEGORICAL_FEATURES,
    FEATURE_COLUMNS,
    LABEL,
    MONOTONE_INCREASING,
    build_training_set,
    pair_context,
)
from recommender.features.history import settle_times
from recommender.gate import below_floor, paired_comparison, schema_change
from recommender.model import ConversionModel
from recommender.registry import UNCHECKED, Decision, champion_version, register_model
from recommender.split import SPLIT_BY, TimeSplit, settled_in_time
from recommender.tracking import quiet_mlflow_hints, start_run
from recommender.validate import load_dataset

logger = logging.getLogger(__name__)

MIN_ROWS_PER_WINDOW = 20
# What the logged booster is grown on after model selection (recommender.refit):
# "train+valid" (default), "all" (also the test window), "none" (the selected booster).
REFIT_CHOICES = ("train+valid", "all", "none")


@dataclass
class TrainingData:
    """A validated data folder turned into a labelled, time-split training set."""

    ds: Dataset
    rows: pd.DataFrame
    split: TimeSplit
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    truth: pd.DataFrame | None
    digest: str
    outcome_lag: float = config.DEFAULT_OUTCOME_LAG_DAYS


@dataclass
class TrainResult:
    """What one `train` produced: the model, its evaluation, the run and the registry move."""

    model: ConversionModel
    evaluation: Evaluation
    run_id: str | None = None
    version: str | None = None
    decision: Decision | None = None
    preference: Any = None  # recommender.preference.FeedbackResult with --feedback


def data_digest(ds: Dataset) -> str:
    """A short SHA-256 over the bytes of every table file the data was read from."""
    h = hashlib.sha256()
    for name in sorted(ds.files):
        path = Path(ds.files[name])
        h.update(name.encode())
        if path.is_file():
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()[:16]


def _rows_split_helps(rows: pd.DataFrame, split_by: str, train_share: float,
                      valid_share: float) -> bool:
    """True when `--split-by rows` would give every window enough rows with both outcomes:
    only then is it worth suggesting (with 12 collaborations no split can help)."""
    if split_by != "time":
        return False
    try:
        parts = TimeSplit.from_frame(rows, "as_of", train_share, valid_share,
                                     by="rows").split(rows)
    except ValueError:
        return False
    return all(len(p) >= MIN_ROWS_PER_WINDOW and p[LABEL].nunique() == 2 for p in parts)


def prepare(data_dir: str | Path, train_share: float = 0.65, valid_share: float = 0.15,
            split_by: str = "time", outcome_lag: float | None = None) -> TrainingData:
    """Load and validate `data_dir`, build the training set and split it in time (by shares
    of the time span, or with split_by="rows" of the rows in time order).

    An earlier outcome counts in the features only once settled (`settled_at`, else
    `outcome_lag` days after the start; default config.DEFAULT_OUTCOME_LAG_DAYS), and train
    and validation keep only the rows settled before the next window starts."""
    if split_by not in SPLIT_BY:
        raise UserError(f"--split-by must be one of {', '.join(SPLIT_BY)}, not {split_by!r}")
    lag = config.DEFAULT_OUTCOME_LAG_DAYS if outcome_lag is None else float(outcome_lag)
    if not (lag >= 0 and np.isfinite(lag)):
        raise UserError(f"--outcome-lag must be a number of days >= 0, not {outcome_lag!r}")
    ds = load_dataset(data_dir)
    if len(ds.collaborations) == 0:
        raise UserError(f"{data_dir}: no collaborations table (or it is empty): there are no "
                        "outcomes to learn from")
    rows = build_training_set(ds, pair_context(ds, lag))
    try:
        split = TimeSplit.from_frame(rows, "as_of", train_share, valid_share, by=split_by)
    except ValueError as exc:  # the training rows' as_of is each collaboration's started_at
        where = ds.files.get("collaborations", str(data_dir))
        hint = (" If the collaborations crowd into part of their time span, --split-by rows "
                "cuts at row quantiles instead."
                if _rows_split_helps(rows, split_by, train_share, valid_share) else "")
        raise UserError(f"{where}: column 'started_at' cannot be split in time: {exc}.{hint}"
                        ) from exc
    train, valid, test = split.split(rows)
    settled = pd.Series(settle_times(ds.collaborations, lag),
                        index=ds.collaborations["collaboration_id"].to_numpy())
    train, valid = settled_in_time(train, valid, split, pd.Series(
        pd.to_datetime(settled.to_numpy(), utc=True), index=settled.index))
    for name, part in (("train", train), ("validation", valid), ("test", test)):
        if len(part) < MIN_ROWS_PER_WINDOW or part[LABEL].nunique() < 2:
            rows_hint = (" Collaborations crowded into part of their time span? Try "
                         "--split-by rows." if _rows_split_helps(rows, split_by, train_share,
                                                                  valid_share) else "")
            lag_hint = (f" The outcome lag ({lag:g} days) leaves out rows not settled by the "
                        "next window: a smaller --outcome-lag keeps more." if lag > 0 else "")
            raise UserError(
                f"{data_dir}: the {name} window holds {len(part)} collaborations "
                f"({int(part[LABEL].sum())} converted); at least {MIN_ROWS_PER_WINDOW} with both "
                "outcomes are needed." + rows_hint + lag_hint)
    return TrainingData(ds, rows, split, train, valid, test, read_truth(Path(data_dir)),
                        data_digest(ds), lag)


def with_domain_constraints(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """`params` with the monotone constraints that are domain knowledge
    (features.MONOTONE_INCREASING), unless `params` sets monotone_constraints itself."""
    return {"monotone_constraints": {f: 1 for f in MONOTONE_INCREASING}, **(params or {})}


def fit(data: TrainingData, params: dict[str, Any] | None = None, seed: int = 0,
        num_boost_round: int = 1000, early_stopping_rounds: int = 50,
        calibration: str = "auto") -> ConversionModel:
    """LightGBM on the train window, early stopping and calibration on the validation window.

    Callers that only want the booster (its validation loss, its number of rounds) pass
    calibration="platt": the cheapest calibration, as "auto" cross-fits both methods."""
    model = ConversionModel(params=with_domain_constraints(params), seed=seed,
                            num_boost_round=num_boost_round,
                            early_stopping_rounds=early_stopping_rounds,
                            calibration=calibration, categorical_features=CATEGORICAL_FEATURES)
    return model.fit(data.train[FEATURE_COLUMNS], data.train[LABEL],
                     data.valid[FEATURE_COLUMNS], data.valid[LABEL])


def refit_model(model: ConversionModel, data: TrainingData, windows: str) -> ConversionModel:
    """`model` (its rounds) grown again on train + validation, or with windows="all" also on
    test, with a cross-fitted calibration (`recommender.refit`)."""
    from recommender.refit import refit

    parts = [data.train, data.valid] + ([data.test] if windows == "all" else [])
    rows = pd.concat(parts, ignore_index=True)
    return refit(model, rows[FEATURE_COLUMNS], rows[LABEL].to_numpy())


def catalogue_evaluation(model: ConversionModel, data: TrainingData, data_dir: Path,
                         seed: int = 0) -> dict[str, float]:
    """Catalogue NDCG of the model and of the heuristic and random baselines where the data
    folder holds a generated world's truth_catalogue.parquet (`recommender.catalogue`);
    nothing for real data."""
    from recommender.catalogue import catalogue_features, catalogue_metrics, read_catalogue_truth

    truth = read_catalogue_truth(Path(data_dir))
    if truth is None:
        return {}
    scored = catalogue_metrics(model, data.train, catalogue_features(data.ds, truth), truth,
                               seed=seed)
    logger.info("catalogue NDCG@10 over %d brands: model %.4f, heuristic %.4f",
                truth["brand_id"].nunique(), scored["catalogue_ndcg_at_10"],
                scored["catalogue_baseline_heuristic_ndcg_at_10"])
    return scored


def gate(model_name: str, model: ConversionModel, evaluation: Evaluation, test: pd.DataFrame,
         force_champion: bool = False, champion: str | None | object = UNCHECKED,
         seed: int = 0) -> Decision:
    """Champion only for a model with signal that beats the heuristic baseline (a fixed
    floor) and is non-inferior to the current champion, both scored on the NEW test window
    (paired bootstrap over brands, `recommender.gate`). A champion with another feature
    schema is never replaced automatically. `champion`: the version the caller saw at the
    start of its run (the registry move is then compare-and-swap on it)."""
    if force_champion:
        return Decision(config.CHAMPION_ALIAS, "made champion by force_champion")
    new_metrics = evaluation.metrics
    ok, text = has_signal(new_metrics["auc"], test[LABEL].to_numpy())
    if not ok:
        return Decision(config.CHALLENGER_ALIAS, f"no evidence of signal: {text}")
    floor = below_floor(new_metrics)
    if floor:
        return Decision(config.CHALLENGER_ALIAS, "below the fixed floor: " + "; ".join(floor))
    current = champion_version(None, model_name)
    if current is None:
        return Decision(config.CHAMPION_ALIAS, "no champion yet; beats the heuristic baseline")
    version = str(current.version)
    if champion is not UNCHECKED and champion != version:
        return Decision(config.CHALLENGER_ALIAS, f"the champion moved to version {version} "
                        f"after this run started (it saw {champion or 'none'}); re-run to "
                        "compare with it")
    from recommender.pyfunc import load_conversion_model

    old = load_conversion_model(f"models:/{model_name}/{version}")
    change = schema_change(old.features_, model.features_)
    if change:
        return Decision(config.CHALLENGER_ALIAS,
                        f"{change} against the champion (version {version}): never promoted "
                        "automatically; compare the two and use --force-champion")
    comparisons = paired_comparison(
        test[LABEL].to_numpy(), test["brand_id"].to_numpy(), evaluation.scores["model"],
        old.predict_proba(test[old.features_]), seed=seed)
    worse = [c.text() for c in comparisons if not c.ok]
    if worse:
        return Decision(config.CHALLENGER_ALIAS, f"not shown non-inferior to the champion "
                        f"(version {version}): " + "; ".join(worse))
    return Decision(config.CHAMPION_ALIAS, f"non-inferior to the champion (version {version}): "
                    + "; ".join(c.text() for c in comparisons))


def _log_plots(importance: pd.DataFrame, data: TrainingData, evaluation: Evaluation) -> None:
    import mlflow

    from recommender.plots import calibration_figure, feature_importance_figure, gains_figure

    y = data.test[LABEL].to_numpy()
    figures = {
        "plots/calibration.png": calibration_figure(y, evaluation.scores["model"]),
        "plots/gains.png": gains_figure(y, evaluation.scores, oracle=evaluation.oracle),
        "plots/feature_importance.png": feature_importance_figure(importance),
    }
    for path, fig in figures.items():
        mlflow.log_figure(fig, path)


def _log_run(model: ConversionModel, data: TrainingData, evaluation: Evaluation,
             run_params: dict[str, Any]) -> None:
    import mlflow

    mlflow.log_params({
        **run_params, **data.split.to_dict(),
        "rows_train": len(data.train), "rows_valid": len(data.valid), "rows_test": len(data.test),
        "best_iteration": model.best_iteration_, "calibration": model.calibration_["method"],
        "n_features": len(FEATURE_COLUMNS), "data_digest": data.digest,
        **{f"lgb_{k}": v for k, v in model.params_.items() if k not in ("verbosity",)},
    })
    finite = {k: float(v) for k, v in evaluation.metrics.items() if np.isfinite(v)}
    mlflow.log_metrics(finite)
    with quiet_mlflow_hints():
        dataset = mlflow.data.from_pandas(data.rows, source=str(data.ds.source),
                                          name=f"training-set-{data.digest}", targets=LABEL)
        mlflow.log_input(dataset, context="training")
    mlflow.set_tag("data_digest", data.digest)
    mlflow.log_dict({"features": FEATURE_COLUMNS, "categorical": CATEGORICAL_FEATURES},
                    "features.json")
    mlflow.log_text(evaluation.table.to_csv(float_format="%.5f"), "metrics_table.csv")
    mlflow.log_table(evaluation.table.reset_index(), "metrics_table.json")
    importance = model.feature_importance()
    mlflow.log_text(importance.to_csv(index=False), "feature_importance.csv")
    _log_plots(importance, data, evaluation)


def run_training(
    data_dir: Path,
    experiment: str = config.DEFAULT_EXPERIMENT,
    model_name: str = config.REGISTERED_MODEL_NAME,
    seed: int = config.DEFAULT_SEED,
    register: bool = True,
    force_champion: bool = False,
    params: dict[str, Any] | None = None,
    num_boost_round: int = 1000,
    engine: str = "local",
    scheduler: str | None = None,
    workers: int | None = None,
    split_by: str = "time",
    outcome_lag: float | None = None,
    feedback: str | Path | None = None,
    refit_on: str = "train+valid",
) -> TrainResult:
    """The whole `recommender train`: prepare, fit, evaluate, log, register behind the gate.

    engine="dask" fits with lightgbm.dask on the cluster at `scheduler` or on a local cluster
    of `workers` processes (`recommender.distributed.fit_dask`); the rest is the same.
    `feedback` (a feedback store URL or a Parquet/CSV file of its events) also trains the
    planners' preference model (`recommender.preference`), logged beside the conversion
    model's metrics and blended into the ranker only if it passes its held-out test."""
    import mlflow

    from recommender.batch import check_engine

    check_engine(engine, scheduler, workers)
    if refit_on not in REFIT_CHOICES:
        raise UserError(f"--refit must be one of {', '.join(REFIT_CHOICES)}, not {refit_on!r}")
    started_with = champion_version(None, model_name) if register else None
    champion = None if started_with is None else str(started_with.version)
    data = prepare(data_dir, split_by=split_by, outcome_lag=outcome_lag)
    if data.outcome_lag != config.DEFAULT_OUTCOME_LAG_DAYS:
        logger.warning("trained with an outcome lag of %g days; ranking and batch scoring "
                       "count outcomes %g days after the start (the default)",
                       data.outcome_lag, config.DEFAULT_OUTCOME_LAG_DAYS)
    run_params: dict[str, Any] = {"seed": seed, "data_dir": str(data_dir),
                                  "num_boost_round": num_boost_round, "engine": engine,
                                  "split_by": split_by, "outcome_lag_days": data.outcome_lag}
    if engine == "dask":
        from recommender.distributed import fit_dask

        model = fit_dask(data, params=params, seed=seed, max_rounds=num_boost_round,
                         scheduler=scheduler, workers=workers)
        run_params["rounds_from"] = model.rounds_source_
    else:
        model = fit(data, params=params, seed=seed, num_boost_round=num_boost_round)
    run_params["refit"] = refit_on
    model = refit_model(model, data, "train+valid") if refit_on != "none" else model
    # the held-out test window scores the model that has not seen it
    evaluation = evaluate_window(model, data.train, data.test, data.truth, seed=seed)
    evaluation.metrics.update(catalogue_evaluation(model, data, data_dir, seed))
    preference = None
    if feedback is not None:
        from recommender.preference import fit_feedback, load_events

        preference = fit_feedback(data.ds, load_events(feedback), model)
        run_params["feedback"] = str(feedback)
    if refit_on == "all":
        model = refit_model(model, data, "all")
    from recommender.provenance import provenance

    made_from = provenance(data.digest, model.features_)
    with start_run(experiment, f"train-{data.digest}") as run:
        mlflow.set_tags(made_from)
        _log_run(model, data, evaluation, run_params)
        from recommender.pyfunc import log_ranker

        if preference is not None:
            mlflow.log_metrics({k: v for k, v in preference.metrics.items() if np.isfinite(v)})
            mlflow.log_dict(preference.model.to_dict(), "preference/corrected.json")
            mlflow.log_dict(preference.naive.to_dict(), "preference/uncorrected.json")
        info = log_ranker(model, data.ds, preference=preference.model
                          if preference is not None and preference.blended else None)
        result = TrainResult(model, evaluation, run_id=run.info.run_id, preference=preference)
        if register:
            decision = gate(model_name, model, evaluation, data.test, force_champion,
                            champion=champion, seed=seed)
            version = register_model(
                info.model_uri, model_name, decision,
                tags={"run_id": run.info.run_id, **made_from},
                expected=UNCHECKED if force_champion else champion)
            decision = Decision(version.tags["gate_alias"], version.tags["gate_reason"])
            mlflow.set_tags({"registered_version": version.version, "alias": decision.alias,
                             "gate_reason": decision.reason})
            result.version, result.decision = version.version, decision
    return result
