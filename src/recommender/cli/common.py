"""Shared by every command: the Typer app, consoles, options and the user-error handler."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from recommender.io import location

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
        except KeyboardInterrupt:
            err.print("[yellow]stopped[/]: nothing half-written is left behind", highlight=False)
            raise typer.Exit(130) from None
        except OSError as exc:  # a path given that cannot be read or written (a file, not a
            # folder; no permission; a full disk): name it, no trace
            from rich.markup import escape

            paths = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p)
            err.print(f"[bold red]error:[/] {escape(paths or 'file system')}: "
                      f"{escape(exc.strerror or str(exc))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"recommender {version('recommender')}", highlight=False)
        raise typer.Exit()


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log details.")] = False,
         show_version: Annotated[bool, typer.Option(
             "--version", callback=_print_version, is_eager=True,
             help="Print the version and exit.")] = False):
    """Recommender commands. Example: recommender generate --out data/raw && recommender
    validate --data data/raw"""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:  # MLflow and alembic announce every database migration at INFO
        # MLflow sets its loggers' level from this variable when it is first imported
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        # artifact transfers of a few small files draw a progress bar each
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        for name in ("mlflow", "alembic"):
            logging.getLogger(name).setLevel(logging.WARNING)


DataOpt = Annotated[Path, typer.Option(
    "--data", parser=location, metavar="FOLDER|URL",
    help="Folder of contract tables (CSV, Parquet, or folders of Parquet files), or an fsspec "
         "URL of one (s3://bucket/data, file:///srv/data).")]
OnInvalidOpt = Annotated[
    str,
    typer.Option("--on-invalid", help="fail: stop on any broken rule; quarantine: set offending "
                 "rows aside in a rejects file and go on."),
]


def check_on_invalid(value: str) -> str:
    from recommender.errors import UserError

    if value not in ("fail", "quarantine"):
        raise UserError(f"--on-invalid must be 'fail' or 'quarantine', not '{value}'")
    return value


EngineOpt = Annotated[str, typer.Option(help="local: this process; dask: a Dask cluster "
                                        "(--scheduler or --workers).")]
SchedulerOpt = Annotated[str | None, typer.Option(help="Address of an existing Dask scheduler, "
                                                  "e.g. tcp://scheduler-host:8786 "
                                                  "(--engine dask).")]
WorkersOpt = Annotated[int | None, typer.Option(min=1, help="Start a local Dask cluster of N "
                                                "worker processes (--engine dask).")]


ModelOpt = Annotated[str, typer.Option("--model", help="MLflow model URI of the ranker.")]
ExperimentOpt = Annotated[str, typer.Option(help="MLflow experiment.")]
ModelNameOpt = Annotated[str, typer.Option(help="Registered model name.")]
FeedbackDbOpt = Annotated[str | None, typer.Option(
    "--feedback-db", help="SQLAlchemy URL of the feedback store; default "
    "$RECOMMENDER_FEEDBACK_URL, else sqlite:///feedback.db.")]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def warn_unless_loopback(host: str, what: str) -> None:
    """A warning on stderr when `host` is reachable from other machines."""
    if host not in LOOPBACK:
        err.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it can "
                  f"{what}", highlight=False)


SplitByOpt = Annotated[str, typer.Option(help="time: the windows are 65/15/20% of the time "
                                         "span; rows: 65/15/20% of the collaborations in "
                                         "time order (for data crowded into part of the "
                                         "span). Never shuffled.")]
