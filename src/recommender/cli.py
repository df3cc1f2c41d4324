"""The `recommender` command line: parse arguments, call the stages, print results."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from recommender import config

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Match brands with micro-influencers: calibrated conversion probabilities, explained.",
)
out = Console()
err = Console(stderr=True)
F = TypeVar("F", bound=Callable)


def friendly_errors(func: F) -> F:
    """Turn the errors a user can fix into a one-line message and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from recommender.errors import UserError
        from recommender.io import ReadError
        from recommender.validate import ValidationError

        try:
            return func(*args, **kwargs)
        except ValidationError as exc:
            err.print("[bold red]invalid data:[/]", highlight=False)
            for problem in exc.problems:
                err.print(f"  {problem.message()}", highlight=False, markup=False)
            raise typer.Exit(2) from None
        except (UserError, ReadError) as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False):
    """Recommender commands. Example: recommender generate --out data/raw && recommender
    validate --data data/raw"""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:  # MLflow and alembic announce every database migration at INFO
        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)


DataOpt = Annotated[Path, typer.Option("--data", help="Folder of contract tables (CSV/Parquet).")]
OnInvalidOpt = Annotated[
    str,
    typer.Option("--on-invalid", help="fail: stop on any broken rule; quarantine: set offending "
                 "rows aside in a rejects file and go on."),
]


def _check_on_invalid(value: str) -> str:
    from recommender.errors import UserError

    if value not in ("fail", "quarantine"):
        raise UserError(f"--on-invalid must be 'fail' or 'quarantine', not '{value}'")
    return value


@app.command()
@friendly_errors
def validate(
    data: DataOpt = config.RAW_DIR,
    on_invalid: OnInvalidOpt = "fail",
    rejects: Annotated[Path, typer.Option(help="Rejects file (quarantine mode).")] = Path(
        "data/interim/rejects.csv"
    ),
) -> None:
    """Check a data folder against the data contract and summarise it.

    Example: recommender validate --data data/raw --on-invalid quarantine
    """
    from recommender.io import write_csv_atomic
    from recommender.validate import load_dataset

    ds = load_dataset(data, on_invalid=_check_on_invalid(on_invalid))
    table = Table(title=f"Data in {data}")
    table.add_column("table")
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, rows in ds.row_counts().items():
        table.add_row(name, ds.files.get(name, "(absent)"), f"{rows:,}")
    out.print(table)
    first, last = ds.earliest_timestamp, ds.latest_timestamp
    out.print(f"time span: {first} to {last}")
    for w in ds.warnings:
        out.print(f"[yellow]warning:[/] {w}", highlight=False)
    if len(ds.rejects):
        write_csv_atomic(ds.rejects, rejects)
        counts = ds.rejects.groupby("table").size()
        shown = ", ".join(f"{t}: {n}" for t, n in counts.items())
        out.print(f"[yellow]quarantined[/] {len(ds.rejects)} broken rules ({shown}); "
                  f"rows written to {rejects}")
    out.print("[green]valid[/]")


@app.command()
@friendly_errors
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the world into.")] = (
        config.RAW_DIR
    ),
    influencers: Annotated[int, typer.Option(min=10)] = config.DEFAULT_INFLUENCERS,
    brands: Annotated[int, typer.Option(min=2)] = config.DEFAULT_BRANDS,
    months: Annotated[int, typer.Option(min=2)] = config.DEFAULT_MONTHS,
    seed: int = config.DEFAULT_SEED,
) -> None:
    """Generate a synthetic world in the data contract, with truth.parquet (p_true).

    Example: recommender generate --out data/raw --influencers 5000 --brands 200 --seed 7
    """
    from recommender.progress import progress_enabled
    from recommender.world import generate_world

    paths = generate_world(out_dir, n_influencers=influencers, n_brands=brands, months=months,
                           seed=seed, progress=progress_enabled())
    out.print(f"wrote {len(paths)} tables to {out_dir}")


@app.command()
@friendly_errors
def features(
    data: DataOpt = config.RAW_DIR,
    pairs: Annotated[Path, typer.Option(help="Pairs file: brand_id, influencer_id[, as_of].")] = (
        Path("pairs.csv")
    ),
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write.")] = (
        config.PROCESSED_DIR / "features.parquet"
    ),
    on_invalid: OnInvalidOpt = "fail",
) -> None:
    """Write the point-in-time features of brand-influencer pairs to Parquet.

    Each pair's features use only data strictly before its as_of (default: the latest
    timestamp in the data). Example:
    recommender features --data data/raw --pairs pairs.csv --out data/processed/features.parquet
    """
    from recommender.features import export_features

    n = export_features(data, pairs, out_file, on_invalid=_check_on_invalid(on_invalid))
    out.print(f"wrote features of {n:,} pairs to {out_file}")


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
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = config.DEFAULT_EXPERIMENT,
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = (
        config.REGISTERED_MODEL_NAME
    ),
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
) -> None:
    """Train the calibrated LightGBM conversion model, log it to MLflow, gate the registry.

    Split by time (train, validation for early stopping and calibration, last ~20% of time for
    test); compared with baselines; registered with alias champion only if not worse than the
    current champion on the new test window. Example:
    recommender train --data data/raw --experiment demo --seed 7
    """
    from recommender.train import run_training

    params = _lgb_params(learning_rate, num_leaves, min_data_in_leaf, feature_fraction,
                         lambda_l2, params_file)
    result = run_training(data, experiment=experiment, model_name=model_name, seed=seed,
                          register=register, force_champion=force_champion, params=params,
                          num_boost_round=num_boost_round)
    _print_evaluation(result.evaluation.table)
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
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = config.DEFAULT_EXPERIMENT,
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the best parameters "
                                           "(JSON).")] = config.MODELS_DIR / "best_params.json",
) -> None:
    """Search LightGBM parameters with Optuna on the validation window (one nested MLflow run
    per trial) and write the best ones for `train --params-file`. Example:
    recommender tune --data data/raw --trials 30 && recommender train --params-file
    models/best_params.json
    """
    from recommender.tune import run_tuning

    result = run_tuning(data, trials=trials, seed=seed, experiment=experiment, out_path=out_file)
    out.print(f"best validation log loss {result['valid_log_loss']:.4f} "
              f"(MLflow run {result['run_id']})")
    for k, v in result["params"].items():
        out.print(f"  {k} = {v:.6g}" if isinstance(v, float) else f"  {k} = {v}")
    out.print(f"written to {out_file}; use: recommender train --params-file {out_file}")


def _print_evaluation(table) -> None:
    shown = ["auc", "ndcg_at_10", "precision_at_10", "recall_at_10", "within_niche_auc",
             "log_loss", "ece"]
    t = Table(title="Test window")
    t.add_column("scorer")
    for c in shown:
        t.add_column(c, justify="right")
    for name, row in table.iterrows():
        t.add_row(str(name), *("" if c not in row or row[c] != row[c] else f"{row[c]:.3f}"
                               for c in shown))
    out.print(t)


@app.command()
@friendly_errors
def ui(
    model: Annotated[str, typer.Option(help="MLflow model URI of the ranker.")] = (
        config.DEFAULT_MODEL_URI
    ),
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default; the "
                                      "page has no login).")] = config.DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, max=65535)] = config.DEFAULT_UI_PORT,
    data: Annotated[Path, typer.Option("--data", help="Data folder whose posts draw the "
                                       "weekly engagement sparklines (skipped if absent).")] = (
        config.RAW_DIR
    ),
) -> None:
    """Serve the planner page: pick a brand (or describe one), filter, get an explained,
    optionally budgeted shortlist, export it as CSV. Example:
    recommender ui --model models:/influencer-ranker@champion --port 8080
    """
    from recommender.web.app import app_for_model, listen, make_page_server

    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it can use "
                  "the page (it has no login)", highlight=False)
    sock = listen(host, port)
    out.print(f"loading {model} ...", highlight=False)
    page = app_for_model(model, data if data.is_dir() else None)
    server = make_page_server(page, sock)
    out.print(f"planner page on [bold]http://{host}:{server.port}/[/] (Ctrl+C stops it)",
              highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out.print("stopped")
    finally:
        server.server_close()


if __name__ == "__main__":  # pragma: no cover
    app()
