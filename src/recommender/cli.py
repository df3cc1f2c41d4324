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
        except OSError as exc:  # a path given that cannot be read or written (a file, not a
            # folder; no permission; a full disk): name it, no trace
            from rich.markup import escape

            paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p)
            err.print(f"[bold red]error:[/] {escape(paths or 'file system')}: "
                      f"{escape(exc.strerror or str(exc))}", highlight=False)
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


EngineOpt = Annotated[str, typer.Option(help="local: this process; dask: a Dask cluster "
                                        "(--scheduler or --workers).")]
SchedulerOpt = Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler, "
                                                  "e.g. tcp://scheduler-host:8786 "
                                                  "(--engine dask).")]
WorkersOpt = Annotated[int | None, typer.Option(min=1, help="Start a local Dask cluster of N "
                                                "worker processes (--engine dask).")]


def _check_engine(engine: str, scheduler: str | None, workers: int | None) -> None:
    from recommender.batch import check_engine

    check_engine(engine, scheduler, workers)


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
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Train the calibrated LightGBM conversion model, log it to MLflow, gate the registry.

    Split by time (train, validation for early stopping and calibration, last ~20% of time for
    test); compared with baselines; registered with alias champion only if not worse than the
    current champion on the new test window. With --engine dask the trees are grown by
    lightgbm.dask (rounds from the parameters file if it names them, else from a local fit
    with early stopping). Examples:
    recommender train --data data/raw --experiment demo --seed 7;
    recommender train --data data/raw --engine dask --workers 2
    """
    from recommender.train import run_training

    params = _lgb_params(learning_rate, num_leaves, min_data_in_leaf, feature_fraction,
                         lambda_l2, params_file)
    _check_engine(engine, scheduler, workers)
    result = run_training(data, experiment=experiment, model_name=model_name, seed=seed,
                          register=register, force_champion=force_champion, params=params,
                          num_boost_round=num_boost_round, engine=engine, scheduler=scheduler,
                          workers=workers)
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


# ----------------------------------------------------------------------------- ranker
ModelOpt = Annotated[str, typer.Option("--model", help="MLflow model URI of the ranker.")]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _shares(option: str, text: str | None) -> dict[str, float] | None:
    """'18-24=0.6,25-34=0.4' -> {'18-24': 0.6, '25-34': 0.4}."""
    from recommender.errors import UserError

    if text is None:
        return None
    shares = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        segment, sep, value = part.partition("=")
        try:
            shares[segment.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not segment.strip():
            raise UserError(f"{option} {text!r}: write segment=share pairs, e.g. "
                            "18-24=0.6,25-34=0.4")
    return shares


def _print_recommendations(result, fmt: str) -> None:
    import json

    if fmt == "csv":
        flat = result.assign(reasons=result["reasons"].map(" | ".join))
        sys.stdout.write(flat.to_csv(index=False))
        return
    if fmt == "json":
        records = result.to_dict(orient="records")
        sys.stdout.write(json.dumps(records, indent=1, default=str) + "\n")
        return
    if result.empty:
        out.print("no influencer matches the brief's filters")
        return
    first = result.iloc[0]
    from rich import box

    table = Table(title=f"Influencers for {first['brand_id'] or 'the brand described'}",
                  caption=f"as of {first['as_of']} (snapshot {first['snapshot_as_of']})",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for name in ("#", "influencer", "platform", "niche", "followers", "ER 90d", "match",
                 "price", "P(conv)"):
        table.add_column(name, justify="left" if name in ("influencer", "platform", "niche")
                         else "right", no_wrap=True)

    def pct(v: float) -> str:
        return "" if v != v else f"{v:.1%}"

    for r in result.itertuples(index=False):
        table.add_row(str(r.rank), r.influencer_id, r.platform, r.niche, f"{r.followers:,}",
                      pct(r.engagement_rate_90d), pct(r.audience_match),
                      "" if r.price_per_post != r.price_per_post else f"${r.price_per_post:,.0f}",
                      f"{r.score:.1%}")
    out.print(table)
    out.print("[bold]why[/]")
    for r in result.itertuples(index=False):
        out.print(f"  {r.rank}. {r.influencer_id}: " + "; ".join(r.reasons), highlight=False)
    if "budget" in result:
        out.print(f"budget ${first['budget']:,.0f}: {len(result)} influencers for "
                  f"${first['total_price']:,.0f}, {first['expected_conversions']:.2f} expected "
                  f"converting collaborations; {first['unpriced_left_out']} without a price "
                  "left out", highlight=False)


@app.command()
@friendly_errors
def recommend(
    brand: Annotated[str | None, typer.Option(help="brand_id of a brand in the data (or the "
                                              "name of one described with --category).")] = None,
    category: Annotated[str | None, typer.Option(help="Describe a brand that is not in the "
                                                 "data: its product category.")] = None,
    brand_country: Annotated[str | None, typer.Option(help="Its main market (ISO code).")] = None,
    target_age: Annotated[str | None, typer.Option(help="Its target ages, e.g. "
                                                   "18-24=0.6,25-34=0.4")] = None,
    target_gender: Annotated[str | None, typer.Option(help="e.g. female=0.7,male=0.3")] = None,
    target_country: Annotated[str | None, typer.Option(help="e.g. US=0.8,CA=0.2")] = None,
    platform: Annotated[str | None, typer.Option(help="instagram, tiktok or youtube.")] = None,
    country: Annotated[str | None, typer.Option(help="Influencer country (ISO code).")] = None,
    min_followers: Annotated[int | None, typer.Option(help="Default 1,000.")] = None,
    max_followers: Annotated[int | None, typer.Option(help="Default 100,000.")] = None,
    max_price: Annotated[float | None, typer.Option(help="Highest price per post (USD).")] = None,
    niche: Annotated[str | None, typer.Option(help="Influencer niche.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Influencer id to leave out "
                                                      "(repeatable).")] = None,
    top_n: Annotated[int, typer.Option(help="How many (at most 1,000).")] = config.DEFAULT_TOP_N,
    budget: Annotated[float | None, typer.Option(help="Total budget (USD): choose a set whose "
                                                 "prices fit it.")] = None,
    as_of: Annotated[str | None, typer.Option(help="ISO timestamp; default: the snapshot's.")
                     ] = None,
    model: ModelOpt = config.DEFAULT_MODEL_URI,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Rank influencers for one brief with the registered ranker, in this process.

    Example: recommender recommend --brand b007 --platform instagram --top-n 5
    Inline brand: recommender recommend --category fitness --target-age 18-24=0.6,25-34=0.4
    --budget 2000 --format json
    """
    from recommender.errors import UserError
    from recommender.pyfunc import load_ranker
    from recommender.ranker import brief_frame

    if fmt not in ("table", "csv", "json"):
        raise UserError(f"--format {fmt!r}: must be table, csv or json")
    brief = brief_frame(
        brand_id=brand, category=category, brand_country=brand_country,
        target_age=_shares("--target-age", target_age),
        target_gender=_shares("--target-gender", target_gender),
        target_country=_shares("--target-country", target_country), platform=platform,
        country=country, min_followers=min_followers, max_followers=max_followers,
        max_price=max_price, niche=niche, exclude_influencer_ids=exclude or None)
    ranker = load_ranker(model)
    _print_recommendations(ranker.recommend(brief, top_n=top_n, as_of=as_of, budget=budget),
                           fmt)


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
    if host not in LOOPBACK:
        err.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it can "
                  "query the model", highlight=False)
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
    model_name: Annotated[str, typer.Option(help="Registered model name.")] = (
        config.REGISTERED_MODEL_NAME
    ),
    alias: Annotated[str, typer.Option(help="Refresh the version holding this alias.")] = (
        config.CHAMPION_ALIAS
    ),
    experiment: Annotated[str, typer.Option(help="MLflow experiment.")] = config.DEFAULT_EXPERIMENT,
) -> None:
    """Log a new ranker version with a fresh snapshot of --data and the same booster (no
    retraining); it takes the alias of the version it refreshes.

    Example: recommender refresh --data data/raw
    """
    import mlflow

    from recommender.errors import UserError
    from recommender.pyfunc import load_conversion_model, log_ranker
    from recommender.registry import Decision, champion_version, register_model
    from recommender.tracking import start_run
    from recommender.validate import load_dataset

    client = mlflow.MlflowClient()
    current = champion_version(client, model_name, alias)
    if current is None:
        raise UserError(f"model {model_name!r} has no version with alias {alias!r} to refresh; "
                        "run `recommender train` first")
    model = load_conversion_model(f"models:/{model_name}/{current.version}")
    ds = load_dataset(data)
    with start_run(experiment, f"refresh-v{current.version}") as run:
        mlflow.set_tags({"kind": "refresh", "refresh_of_version": current.version})
        mlflow.log_params({"data_dir": str(data), "refresh_of_version": current.version})
        if current.run_id:  # same booster, same measured quality
            mlflow.log_metrics(client.get_run(current.run_id).data.metrics)
        info = log_ranker(model, ds)
        as_of = info.metadata["snapshot_as_of"] if info.metadata else "?"
        decision = Decision(alias, f"refresh of version {current.version}: same booster, "
                            f"snapshot as of {as_of}")
        version = register_model(info.model_uri, model_name, decision, client,
                                 tags={"run_id": run.info.run_id,
                                       "refresh_of_version": current.version})
    out.print(f"registered {model_name} version {version.version} as [bold]{alias}[/]: "
              f"{decision.reason}", highlight=False)


@app.command()
@friendly_errors
def score(
    pairs: Annotated[Path | None, typer.Option(help="Pairs file (CSV or Parquet): brand_id, "
                                               "influencer_id[, as_of].")] = None,
    all_brands: Annotated[bool, typer.Option("--all-brands", help="The nightly job: every "
                                             "brand's top K of the micro-influencer catalogue "
                                             "instead of a pairs file.")] = False,
    top_k: Annotated[int, typer.Option(min=1, max=config.MAX_TOP_N, help="With --all-brands: "
                                       "influencers kept per brand.")] = config.DEFAULT_TOP_N,
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write (atomically)."
                                           )] = config.PROCESSED_DIR / "scores.parquet",
    model: Annotated[str, typer.Option(help="MLflow model URI of the ranker, or a saved "
                                       "ConversionModel folder.")] = config.DEFAULT_MODEL_URI,
    data: DataOpt = config.RAW_DIR,
    chunk_size: Annotated[int, typer.Option(min=1, help="Pairs per chunk: bounds memory.")] = (
        200_000
    ),
    on_invalid: OnInvalidOpt = "fail",
    engine: EngineOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
) -> None:
    """Score brand-influencer pairs with the registered model, chunk by chunk, into Parquet
    (brand_id, influencer_id, as_of, score, model_name, model_version); with --all-brands,
    each brand's top K (brand_id, rank, influencer_id, score, ...). A failed or killed job
    leaves no partial file and an earlier file at --out intact. Examples:
    recommender score --pairs pairs.csv --out scores.parquet;
    recommender score --all-brands --top-k 50 --out top50.parquet --engine dask --workers 2
    """
    from recommender.batch import score_all_brands, score_pairs
    from recommender.errors import UserError

    _check_engine(engine, scheduler, workers)
    if all_brands == (pairs is not None):
        raise UserError("give either --pairs FILE or --all-brands")
    if all_brands:
        summary = score_all_brands(out_file, top_k=top_k, model_uri=model, data_dir=data,
                                   chunk_size=chunk_size, engine=engine, scheduler=scheduler,
                                   workers=workers)
    else:
        summary = score_pairs(pairs, out_file, model_uri=model, data_dir=data,
                              chunk_size=chunk_size, on_invalid=_check_on_invalid(on_invalid),
                              engine=engine, scheduler=scheduler, workers=workers)
    what = "top-ranked rows" if all_brands else "scores"
    out.print(f"wrote {summary.rows:,} {what} to {summary.out} in {summary.seconds:.1f} s "
              f"(model {summary.model.name} version {summary.model.version}, inference "
              f"{summary.backend}, engine {summary.engine})", highlight=False)
    if summary.rejected:
        out.print(f"[yellow]quarantined[/] {summary.rejected:,} rows; written to "
                  f"{summary.rejects_path}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()
