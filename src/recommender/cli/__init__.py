"""The `recommender` command line: parse arguments, call the stages, print results.

One module per group of commands; importing them registers their commands on `app` (in the
order `--help` lists them).
"""

import signal

from recommender.cli.common import app

# isort: off
from recommender.cli import data, training, ranking, serving, scoring  # noqa: F401, E402
# isort: on

__all__ = ["app", "run"]


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run() -> None:
    """The `recommender` command: `app`, with SIGTERM handled as Ctrl+C is, so that a stopped
    command removes its temporary files, ends its MLflow run and shuts its Dask cluster down."""
    signal.signal(signal.SIGTERM, _stop)
    app()
