"""Commands that fit models: train, tune."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recommender import config
from recommender.cli.common import (
    DataOpt,
    EngineOpt,
    ExperimentOpt,
    ModelNameOpt,
    SchedulerOpt,
    SplitByOpt,
    WorkersOpt,
    app,
    friendly_errors,
    out,
)


def _lgb_params(learning_rate, num_leaves, min_data_in_leaf, feature_fraction, lambda_l2,
                params_file) -> dict:
    import json

    from recommender.errors import UserError

    params: dict = {}
    if params_file is not None:
        try:
            loaded = json.loads(Path(params_file).read_text())
        except (OSError, ValueError) as exc:
            raise UserError(f"--params-file {params_file}: not readable JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise UserError(f"--params-file {params_file}: expected a JSON object of parameters")
        params.update(loaded)
    given = {"learning_rate": learning_rate, "num_leaves": num_leaves,
             "min_data_in_leaf": min_data_in_leaf, "feature_fraction": feature_fraction,
             "lambda_l2": lambda_l2}
    params.update({k: v for k, v in given.items() if v is not None})
    return params


@app.command()
@friendly_errors
def train(
    data: DataOpt = config.RAW_DIR,
    experiment: ExperimentOpt = config.DEFAULT_EXPERIMENT,
    model_name: ModelNameOpt = config.REGISTERED_MODEL_NAME,
    seed: int = config.DEFAULT_SEED,
    register: Annotated[bool, typer.Option("--register/--no-register")] = True,
    force_champion: Annotated[bool, typer.Option(help="Take the champion alias regardless of "
                                                 "the gate.")] = False,
    learning_rate: Annotated[float | None, typer.Option(min=1e-4, max=1.0)] = None,
    num_leaves: Annotated[int | None, typer.Option(min=2, max=4096)] = None,
    min_data_in_leaf: Annotated[int | None, typer.Option(min=1)] = None,
    feature_fraction: Annotated[float | None, typer.Option(min=0.05, max=1.0)] = None,
    lambda_l2: Annotated[float | None, typer.Option(min=0.0)] = None,
    num_boost_round: Annotated[int, typer.Option(min=1)] = 1000,
    params_file: Annotated[Path | None, typer.Option(help="JSON of LightGBM parameters, e.g. "
                                                     "the output of `recommender tune`.")] = None,
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    split_by: SplitByOpt = "time",
    outcome_lag: Annotated[float, typer.Option(
        min=0.0, help="Days after its start at which a collaboration's outcome counts as "
        "known where the data gives no settled_at (history features; train and validation "
        "windows keep only rows settled by the next window).")] = config.DEFAULT_OUTCOME_LAG_DAYS,
    feedback: Annotated[str | None, typer.Option(
        help="Planners' accept/reject events (a feedback store URL, or a Parquet/CSV file of "
             "its columns): also learn their preference, position-corrected, and blend it into "
             "the ranking if it helps on later feedback.")] = None,
    refit: Annotated[str, typer.Option(
        help="After early stopping picks the rounds, grow the logged booster again on "
        "'train+valid' (its test metrics are still held out), on 'all' windows (metrics stay "
        "those of the train+valid model) or 'none'; calibration is cross-fitted.")
    ] = "train+valid",
) -> None:
    """Train the calibrated LightGBM conversion model, log it to MLflow, gate the registry.

    Split by time (train, validation for early stopping and calibration, last ~20% of time for
    test); compared with baselines; registered with alias champion only if not worse than the
    current champion on the new test window. With --engine dask the trees are grown by
    lightgbm.dask (rounds from the parameters file if it names them, else from a local fit
    with early stopping). Examples:
    recommender train --data data/raw --experiment demo --seed 7;
    recommender train --data data/raw --outcome-lag 14;
    recommender train --data data/raw --engine dask --workers 2;
    recommender train --data data/raw --feedback sqlite:///feedback.db
    """
    from recommender.train import run_training

    params = _lgb_params(learning_rate, num_leaves, min_data_in_leaf, feature_fraction,
                         lambda_l2, params_file)
    result = run_training(data, experiment=experiment, model_name=model_name, seed=seed,
                          register=register, force_champion=force_champion, params=params,
                          num_boost_round=num_boost_round, engine=engine, scheduler=scheduler,
                          workers=workers, split_by=split_by, outcome_lag=outcome_lag,
                          feedback=feedback, refit_on=refit)
    _print_evaluation(result.evaluation.table)
    if result.preference is not None:
        _print_preference(result.preference)
    m = result.evaluation.metrics
    if "oracle_lift_share" in m:
        out.print(f"share of the oracle's lift reached: {m['oracle_lift_share']:.1%}")
    out.print(f"MLflow run {result.run_id}")
    if result.decision is not None:
        out.print(f"registered {model_name} version {result.version} as "
                  f"[bold]{result.decision.alias}[/]: {result.decision.reason}")


@app.command()
@friendly_errors
def tune(
    data: DataOpt = config.RAW_DIR,
    trials: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    seed: int = config.DEFAULT_SEED,
    experiment: ExperimentOpt = config.DEFAULT_EXPERIMENT,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the best parameters "
                                           "(JSON).")] = config.MODELS_DIR / "best_params.json",
    split_by: SplitByOpt = "time",
) -> None:
    """Search LightGBM parameters with Optuna, for `train --params-file`.

    The search runs on the validation window (one nested MLflow run per trial) and writes
    the best parameters as JSON. Example:
    recommender tune --data data/raw --trials 30 && recommender train --params-file
    models/best_params.json
    """
    from recommender.tune import run_tuning

    result = run_tuning(data, trials=trials, seed=seed, experiment=experiment, out_path=out_file,
                        split_by=split_by)
    out.print(f"best validation log loss {result['valid_log_loss']:.4f} "
              f"(MLflow run {result['run_id']})")
    for k, v in result["params"].items():
        out.print(f"  {k} = {v:.6g}" if isinstance(v, float) else f"  {k} = {v}")
    out.print(f"written to {out_file}; use: recommender train --params-file {out_file}")


def _print_evaluation(table) -> None:
    shown = ["auc", "within_brand_auc", "ndcg_at_10", "precision_at_10", "recall_at_10",
             "within_niche_auc", "log_loss", "ece"]
    t = Table(title="Test window")
    t.add_column("scorer")
    for c in shown:
        t.add_column(c, justify="right")
    for name, row in table.iterrows():
        t.add_row(str(name), *("" if c not in row or row[c] != row[c] else f"{row[c]:.3f}"
                               for c in shown))
    out.print(t)


def _print_preference(pref) -> None:
    m = pref.metrics
    out.print(f"feedback: {m['feedback_events']:.0f} events; position-stratified AUC on the "
              f"last 20%: conversion alone {m['feedback_auc_conversion_test']:.3f}, blended "
              f"(weight {m['feedback_blend_weight_chosen']:g}) "
              f"{m['feedback_auc_blend_test']:.3f}; preference corrected "
              f"{m['feedback_auc_pref_corrected_test']:.3f}, uncorrected "
              f"{m['feedback_auc_pref_naive_test']:.3f} -> "
              + ("blended into the ranker" if pref.blended else "not blended"), highlight=False)
