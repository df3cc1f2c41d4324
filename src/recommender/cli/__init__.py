"""The `recommender` command line: parse arguments, call the stages, print results.

One module per group of commands; importing them registers their commands on `app` (in the
order `--help` lists them).
"""

from recommender.cli.common import app
from recommender.errors import terminate_as_interrupt

# isort: off
from recommender.cli import data, training, ranking, feedback, serving, scoring  # noqa: F401, E402
# isort: on

__all__ = ["app", "run"]


def run() -> None:
    """The `recommender` command: `app`, with SIGTERM handled as Ctrl+C is."""
    with terminate_as_interrupt():
        app()
