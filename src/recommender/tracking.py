"""Where a command's MLflow run goes: its experiment, or the run `mlflow run` opened for it."""

from __future__ import annotations

import os


def start_run(experiment: str, run_name: str):
    """An active MLflow run for a command.

    Launched by `mlflow run` (MLFLOW_RUN_ID set), the command logs into the run MLflow made
    for it, in the experiment chosen there (`mlflow run --experiment-name`); otherwise it
    starts a run named `run_name` in `experiment`.
    """
    import mlflow

    if os.environ.get("MLFLOW_RUN_ID"):
        return mlflow.start_run()
    mlflow.set_experiment(experiment)
    return mlflow.start_run(run_name=run_name)
