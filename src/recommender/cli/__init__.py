"""The `recommender` command line: parse arguments, call the stages, print results.

One module per group of commands; importing them registers their commands on `app` (in the
order `--help` lists them).
"""

from recommender.cli import data, training, ranking, serving, scoring  # noqa: F401, I001
from recommender.cli.common import app

__all__ = ["app"]
