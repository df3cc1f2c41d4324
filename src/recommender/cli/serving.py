"""Commands around the registered ranker: serve it over REST, refresh its snapshot."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from recommender import config
from recommender.cli.common import (
    DataOpt,
    ExperimentOpt,
    ModelNameOpt,
    ModelOpt,
    app,
    friendly_errors,
    out,
    warn_unless_loopback,
)


@app.command()
@friendly_errors
def serve(
    model: ModelOpt = config.DEFAULT_MODEL_URI,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        config.DEFAULT_HOST
    ),
    port: Annotated[int, typer.Option(min=0, max=65535)] = config.DEFAULT_SERVE_PORT,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
) -> None:
    """Start MLflow's scoring server for the ranker (`mlflow models serve --env-manager local`).

    Example: recommender serve --port 5001, then
    curl -s localhost:5001/invocations -H 'Content-Type: application/json'
    -d '{"dataframe_records": [{"brand_id": "b007"}], "params": {"top_n": 5}}'
    """
    import os
    import subprocess

    from recommender.pyfunc import check_model

    check_model(model)  # a clear message now rather than the server's trace later
    warn_unless_loopback(host, "query the model")
    env = dict(os.environ)
    # MLflow starts `uvicorn` from PATH: put this environment's scripts first
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")  # one request = one thread; workers scale out
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model, "--env-manager",
           "local", "--host", host, "--port", str(port), "--workers", str(workers)]
    out.print(f"serving {model} on http://{host}:{port}/invocations", highlight=False)
    try:
        code = subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


@app.command()
@friendly_errors
def refresh(
    data: DataOpt = config.RAW_DIR,
    model_name: ModelNameOpt = config.REGISTERED_MODEL_NAME,
    alias: Annotated[str, typer.Option(help="Refresh the version holding this alias.")] = (
        config.CHAMPION_ALIAS
    ),
    experiment: ExperimentOpt = config.DEFAULT_EXPERIMENT,
) -> None:
    """Log a new ranker version with a fresh snapshot of --data and the same booster.

    No retraining; the new version takes the alias of the version it refreshes.

    Example: recommender refresh --data data/raw
    """
    import mlflow

    from recommender.errors import UserError
    from recommender.pyfunc import load_conversion_model, load_preference, log_ranker
    from recommender.registry import Decision, champion_version, register_model
    from recommender.tracking import require_store, start_run
    from recommender.validate import load_dataset

    uri = require_store(f"models:/{model_name}@{alias}")  # nothing to refresh in a new store
    client = mlflow.MlflowClient()
    current = champion_version(client, model_name, alias)
    if current is None:
        raise UserError(f"model {model_name!r} has no version with alias {alias!r} to refresh "
                        f"(tracking URI {uri}); run `recommender train` first")
    model = load_conversion_model(f"models:/{model_name}/{current.version}")
    preference = load_preference(f"models:/{model_name}/{current.version}")
    ds = load_dataset(data)
    with start_run(experiment, f"refresh-v{current.version}") as run:
        mlflow.set_tags({"kind": "refresh", "refresh_of_version": current.version})
        mlflow.log_params({"data_dir": str(data), "refresh_of_version": current.version})
        if current.run_id:  # same booster, same measured quality
            mlflow.log_metrics(client.get_run(current.run_id).data.metrics)
        info = log_ranker(model, ds, preference=preference)
        as_of = info.metadata["snapshot_as_of"] if info.metadata else "?"
        decision = Decision(alias, f"refresh of version {current.version}: same booster, "
                            f"snapshot as of {as_of}")
        version = register_model(info.model_uri, model_name, decision, client,
                                 tags={"run_id": run.info.run_id,
                                       "refresh_of_version": current.version})
    out.print(f"registered {model_name} version {version.version} as [bold]{alias}[/]: "
              f"{decision.reason}", highlight=False)
