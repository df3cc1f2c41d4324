"""Hyperparameter search with Optuna: one nested MLflow run per trial, never the test window."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from recommender import config
from recommender.features import FEATURE_COLUMNS, LABEL
from recommender.metrics import auc, log_loss
from recommender.tracking import start_run
from recommender.train import TrainingData, fit, prepare

logger = logging.getLogger(__name__)


def suggest_params(trial) -> dict[str, Any]:
    """The search space: the LightGBM parameters that matter most on tabular data this size."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 10, 300, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }


def validation_loss(data: TrainingData, params: dict[str, Any], seed: int) -> tuple[float, dict]:
    """Log loss of the uncalibrated booster on the validation window (the test is never read),
    with the number of rounds early stopping chose."""
    model = fit(data, params=params, seed=seed, calibration="platt")  # booster only
    p = model.predict_raw(data.valid[FEATURE_COLUMNS])
    y = data.valid[LABEL].to_numpy()
    return log_loss(y, p), {"valid_auc": auc(y, p), "best_iteration": model.best_iteration_}


def run_tuning(
    data_dir: Path,
    trials: int = 20,
    seed: int = config.DEFAULT_SEED,
    experiment: str = config.DEFAULT_EXPERIMENT,
    out_path: Path | None = None,
    split_by: str = "time",
) -> dict[str, Any]:
    """Search `trials` parameter sets; return the best (and write them to `out_path` as JSON,
    ready for `recommender train --params-file`)."""
    import mlflow
    import optuna

    from recommender.io import atomic_path

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = prepare(data_dir, split_by=split_by)
    with start_run(experiment, f"tune-{data.digest}") as parent:
        mlflow.log_params({"trials": trials, "seed": seed, "data_digest": data.digest,
                           "split_by": split_by,
                           "objective": "validation log loss (uncalibrated)"})

        def objective(trial) -> float:
            params = suggest_params(trial)
            with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True):
                loss, extra = validation_loss(data, params, seed)
                mlflow.log_params(params)
                mlflow.log_metrics({"valid_log_loss": loss, **extra})
            trial.set_user_attr("best_iteration", extra["best_iteration"])
            return loss

        study = optuna.create_study(direction="minimize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
        study.optimize(objective, n_trials=trials, show_progress_bar=_show_progress())
        best = dict(study.best_params)
        mlflow.log_params({f"best_{k}": v for k, v in best.items()})
        mlflow.log_metric("best_valid_log_loss", study.best_value)
        mlflow.log_dict(best, "best_params.json")
        logger.info("best of %d trials (run %s): %s", trials, parent.info.run_id, best)
    if out_path is not None:
        with atomic_path(Path(out_path)) as tmp:
            tmp.write_text(json.dumps(best, indent=2) + "\n")
    return {"params": best, "valid_log_loss": study.best_value, "run_id": parent.info.run_id}


def _show_progress() -> bool:
    from recommender.progress import progress_enabled

    return progress_enabled()
