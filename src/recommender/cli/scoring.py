"""The batch command: score pairs, or every brand's top K, into Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from recommender import config
from recommender.cli.common import (
    DataOpt,
    EngineOpt,
    OnInvalidOpt,
    SchedulerOpt,
    WorkersOpt,
    app,
    check_on_invalid,
    friendly_errors,
    out,
)


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
    """Batch scoring: pairs, or every brand's top K, into Parquet, locally or on Dask.

    Scores brand-influencer pairs with the registered model, chunk by chunk, into Parquet
    (brand_id, influencer_id, as_of, score, model_name, model_version); with --all-brands,
    each brand's top K (brand_id, rank, influencer_id, score, ...). A failed or killed job
    leaves no partial file and an earlier file at --out intact. Examples:
    recommender score --pairs pairs.csv --out scores.parquet;
    recommender score --all-brands --top-k 50 --out top50.parquet --engine dask --workers 2
    """
    from recommender.batch import score_pairs
    from recommender.errors import UserError
    from recommender.nightly import score_all_brands

    if all_brands == (pairs is not None):
        raise UserError("give either --pairs FILE or --all-brands")
    if all_brands:
        summary = score_all_brands(out_file, top_k=top_k, model_uri=model, data_dir=data,
                                   chunk_size=chunk_size, engine=engine, scheduler=scheduler,
                                   workers=workers)
    else:
        summary = score_pairs(pairs, out_file, model_uri=model, data_dir=data,
                              chunk_size=chunk_size, on_invalid=check_on_invalid(on_invalid),
                              engine=engine, scheduler=scheduler, workers=workers)
    what = "top-ranked rows" if all_brands else "scores"
    out.print(f"wrote {summary.rows:,} {what} to {summary.out} in {summary.seconds:.1f} s "
              f"(model {summary.model.name} version {summary.model.version}, inference "
              f"{summary.backend}, engine {summary.engine})", highlight=False)
    if summary.rejected:
        out.print(f"[yellow]quarantined[/] {summary.rejected:,} rows; written to "
                  f"{summary.rejects_path}", highlight=False)
