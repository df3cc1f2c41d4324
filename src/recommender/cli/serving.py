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
    allow_unevaluated: Annotated[bool, typer.Option(
        help="Refresh even when --data holds no collaborations to re-evaluate on.")] = False,
) -> None:
    """Log a new ranker version with a fresh snapshot of --data and the same booster.

    No retraining. The new version takes the alias of the version it refreshes only if the
    booster still shows signal and beats the heuristic baseline on the new data's test
    window, the new first stage keeps the exhaustive top 10, and the alias has not moved
    meanwhile; otherwise it becomes challenger, with the reason.

    Example: recommender refresh --data data/raw
    """
    from recommender.refresh import run_refresh

    result = run_refresh(data, model_name, alias, experiment, allow_unevaluated)
    out.print(f"registered {model_name} version {result.version} as "
              f"[bold]{result.decision.alias}[/]: {result.decision.reason}", highlight=False)


@app.command()
@friendly_errors
def models(model_name: ModelNameOpt = config.REGISTERED_MODEL_NAME) -> None:
    """List the registered versions of the ranker, newest first: aliases, the key test
    metrics of their run, git commit (+dirty), package version, data digest, feature count.

    Example: recommender models --model-name influencer-ranker
    """
    from mlflow.exceptions import MlflowException
    from rich.table import Table

    from recommender.errors import UserError
    from recommender.provenance import KEY_METRICS, list_versions

    try:
        versions = list_versions(model_name)
    except MlflowException as exc:
        raise UserError(f"model {model_name!r}: not found in the registry ({exc.message})"
                        ) from None
    t = Table(title=f"{model_name}: {len(versions)} version(s)")
    shown = ["version", "aliases", "created", *KEY_METRICS, "git_commit", "package_version",
             "data_digest", "features"]
    for c in shown:
        t.add_column(c, justify="right" if c in KEY_METRICS or c == "version" else "left")
    for _, row in versions.iterrows():
        t.add_row(*(_cell(row[c]) for c in shown))
    out.print(t)


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.3f}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)
