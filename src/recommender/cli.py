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


if __name__ == "__main__":  # pragma: no cover
    app()
