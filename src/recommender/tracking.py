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
        _create_beside_store(experiment)
        mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=None if os.environ.get("MLFLOW_RUN_ID") else run_name) as run:
        try:
            yield run
        except KeyboardInterrupt:
            mlflow.end_run("KILLED")
            raise


def _create_beside_store(experiment: str) -> None:
    """Create `experiment`, if new, with its artifacts beside a local SQLite store
    (STORE_FOLDER/mlruns/NAME): MLflow's default, ./mlruns, depends on where the command
    runs, and would scatter a store's artifacts over every folder it was used from."""
    import re

    import mlflow

    uri = mlflow.get_tracking_uri()
    db = _local_store_path(uri) if uri.startswith("sqlite:///") else None
    if db is None or mlflow.get_experiment_by_name(experiment) is not None:
        return
    folder = db.resolve().parent / "mlruns" / (re.sub(r"[^\w.-]+", "-", experiment) or "-")
    mlflow.create_experiment(experiment, artifact_location=folder.as_uri())


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


def require_store(model_uri: str) -> str:
    """The registry/tracking URI a `models:/` or `runs:/` URI is read from, checked to exist.

    A command that only reads a model never creates a store: MLflow would make an empty
    `mlflow.db` in the working directory and then only say the model is not found. Returns
    the URI, for messages; raises UserError naming it when its SQLite file or folder is absent.
    """
    import mlflow

    from recommender.errors import UserError

    uri = mlflow.get_registry_uri() if model_uri.startswith("models:/") else (
        mlflow.get_tracking_uri())
    local = _local_store_path(uri)
    if local is not None and not local.exists():
        raise UserError(f"model {model_uri}: no MLflow store at {local} (tracking URI {uri}); "
                        "run from the folder holding it, or set MLFLOW_TRACKING_URI")
    return uri


def _local_store_path(uri: str):
    """The file or folder of a local store URI (sqlite:///..., file:..., a plain path)."""
    from pathlib import Path
    from urllib.parse import unquote, urlparse

    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        return None if path in ("", ":memory:") else Path(unquote(path))
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a path (a Windows drive letter)
        return Path(uri)
    return None
