"""Where a command's MLflow run goes: its experiment, or the run `mlflow run` opened for it."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator


@contextlib.contextmanager
def start_run(experiment: str, run_name: str) -> Iterator:
    """An active MLflow run for a command.

    Launched by `mlflow run` (MLFLOW_RUN_ID set), the command logs into the run MLflow made
    for it, in the experiment chosen there (`mlflow run --experiment-name`); otherwise it
    starts a run named `run_name` in `experiment`. A command stopped by Ctrl+C or SIGTERM
    ends its run as KILLED (an error ends it as FAILED), never leaving it RUNNING.
    """
    import mlflow

    if not os.environ.get("MLFLOW_RUN_ID"):
        mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=None if os.environ.get("MLFLOW_RUN_ID") else run_name) as run:
        try:
            yield run
        except KeyboardInterrupt:
            mlflow.end_run("KILLED")
            raise


@contextlib.contextmanager
def quiet_mlflow_hints() -> Iterator[None]:
    """Silence two MLflow warnings that every `train` would print and no user can act on:
    the hint about integer columns in schemas MLflow infers (dataset and model output; the
    ranker checks requests itself), and the note that a local dataset path "can be
    interpreted in multiple ways" (MLflow picks the local-file source, which is right)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Hint: Inferred schema contains integer",
                                category=UserWarning)
        warnings.filterwarnings("ignore", message=r"The specified dataset source can be "
                                r"interpreted in multiple ways", category=UserWarning)
        yield
