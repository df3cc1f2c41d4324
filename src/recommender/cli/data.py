"""Commands on data folders: validate, generate, features."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recommender import config
from recommender.cli.common import (
    DataOpt,
    OnInvalidOpt,
    app,
    check_on_invalid,
    friendly_errors,
    out,
)


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

    quiet = logging.getLogger("recommender.validate")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # its warnings are printed below, once, not logged as well
    try:
        ds = load_dataset(data, on_invalid=check_on_invalid(on_invalid))
    finally:
        quiet.setLevel(level)
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
    story: Annotated[str, typer.Option(
        help="Which story the world tells (what converts, whom brands book): default, "
             "reach or niche.")] = "default",
    parts: Annotated[int, typer.Option(
        min=1, help="Write posts and audience as folders of this many Parquet files, generated "
                    "one at a time (bounded memory, for big worlds).")] = 1,
    dated_attributes: Annotated[bool, typer.Option(
        help="Write influencers as quarterly rows with valid_from whose followers, price and "
             "real-follower share drift to today's (contract version 2).")] = False,
    planner_briefs: Annotated[int, typer.Option(
        min=0, help="Also simulate planners' accept/reject feedback on this many shown "
                    "shortlists (feedback.parquet, planner_truth.parquet).")] = 0,
) -> None:
    """Generate a synthetic world in the data contract, with truth.parquet (the true odds of
    each collaboration) and truth_catalogue.parquet (every micro-influencer's true odds for
    25 sample brands, at the world's end).

    Example: recommender generate --out data/raw --influencers 5000 --brands 200 --seed 7
    --story reach; a big world in parts:
    recommender generate --out data/big --influencers 500000 --parts 50;
    dated influencer rows: recommender generate --out data/dated --dated-attributes
    """
    from recommender.errors import UserError
    from recommender.world import generate_world
    from recommender.world.stories import STORIES

    if story.strip().lower() not in STORIES:
        raise UserError(f"--story {story!r}: must be one of {', '.join(STORIES)}")
    paths = generate_world(out_dir, n_influencers=influencers, n_brands=brands, months=months,
                           seed=seed, progress=True, story=story, parts=parts)
    if dated_attributes:
        from recommender.world.dated import write_dated_attributes

        write_dated_attributes(out_dir, seed=seed)
    if planner_briefs:
        from recommender.world.planners import write_planner_feedback

        paths |= write_planner_feedback(out_dir, planner_briefs, seed)
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

    n = export_features(data, pairs, out_file, on_invalid=check_on_invalid(on_invalid))
    out.print(f"wrote features of {n:,} pairs to {out_file}")
