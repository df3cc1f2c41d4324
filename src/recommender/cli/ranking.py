"""Commands for campaign planners: recommend (in this process) and ui (the web page)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from recommender import config
from recommender.cli.common import (
    FeedbackDbOpt,
    ModelOpt,
    app,
    friendly_errors,
    out,
    warn_unless_loopback,
)
from recommender.io import folder_exists, location


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

    lookalike = "similarity" in result
    title = f"Influencers for {first['brand_id'] or 'the brand described'}"
    if lookalike and first["score"] != first["score"]:
        title = "Influencers like the seeds"
    caption = f"as of {first['as_of']} (snapshot {first['snapshot_as_of']})"
    if lookalike:
        caption += f"; ranked by {first['ranked_by']}"
    table = Table(title=title, caption=caption,
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    handles = "handle" in result and result["handle"].notna().any()
    for name in ("#", "influencer", *(("handle",) if handles else ()), "platform", "niche",
                 "followers", "ER 90d", "match", "price", "P(conv)",
                 *(("like",) if lookalike else ())):
        table.add_column(name, justify="left" if name in ("influencer", "handle", "platform",
                                                          "niche") else "right", no_wrap=True)

    def pct(v: float) -> str:
        return "" if v != v else f"{v:.1%}"

    for r in result.itertuples(index=False):
        handle = (f"@{str(r.handle).lstrip('@')}" if isinstance(r.handle, str) else "",
                  ) if handles else ()
        table.add_row(str(r.rank), r.influencer_id, *handle, r.platform, r.niche,
                      f"{r.followers:,}",
                      pct(r.engagement_rate_90d), pct(r.audience_match),
                      "" if r.price_per_post != r.price_per_post else f"${r.price_per_post:,.0f}",
                      pct(r.score), *((f"{r.similarity:.0%}",) if lookalike else ()))
    out.print(table)
    out.print("[bold]why[/]")
    for r in result.itertuples(index=False):
        mark = f" [{r.feedback}]" if getattr(r, "feedback", "") else ""
        out.print(f"  {r.rank}. {r.influencer_id}{mark}: " + "; ".join(r.reasons),
                  highlight=False)
    if "budget" in result:
        chosen = f"{len(result)} influencer" + ("" if len(result) == 1 else "s")
        out.print(f"budget ${first['budget']:,.0f}: {chosen} for "
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
    like: Annotated[list[str] | None, typer.Option(help="Seed influencer id: rank influencers "
                                                   "like it (repeatable; without --brand or "
                                                   "--category, by similarity alone).")] = None,
    top_n: Annotated[int, typer.Option(help="How many (at most 1,000).")] = config.DEFAULT_TOP_N,
    budget: Annotated[float | None, typer.Option(help="Total budget (USD): choose a set whose "
                                                 "prices fit it.")] = None,
    as_of: Annotated[str | None, typer.Option(help="ISO timestamp; default: the snapshot's.")
                     ] = None,
    include_rejected: Annotated[bool, typer.Option(help="Keep influencers planners rejected "
                                                   "for this brand (left out by default).")
                                ] = False,
    feedback_db: FeedbackDbOpt = None,
    model: ModelOpt = config.DEFAULT_MODEL_URI,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
) -> None:
    """Rank influencers for one brief with the registered ranker, in this process.

    Example: recommender recommend --brand b007 --platform instagram --top-n 5
    Inline brand: recommender recommend --category fitness --target-age 18-24=0.6,25-34=0.4
    --budget 2000 --format json
    Lookalikes: recommender recommend --brand b007 --like i00042 --like i00108
    """
    from recommender.errors import UserError
    from recommender.pyfunc import load_ranker
    from recommender.ranker import brief_frame

    if fmt not in ("table", "csv", "json"):
        raise UserError(f"--format {fmt!r}: must be table, csv or json")
    fields = dict(
        brand_id=brand, category=category, brand_country=brand_country,
        target_age=_shares("--target-age", target_age),
        target_gender=_shares("--target-gender", target_gender),
        target_country=_shares("--target-country", target_country), platform=platform,
        country=country, min_followers=min_followers, max_followers=max_followers,
        max_price=max_price, niche=niche, exclude_influencer_ids=exclude or None,
        like=like or None)
    decisions = {}
    if brand is not None:
        from recommender.feedback import FeedbackStore, apply_feedback

        decisions = FeedbackStore(feedback_db).decisions(brand)
        fields = apply_feedback(fields, decisions, include_rejected)
    ranker = load_ranker(model)
    result = ranker.recommend(brief_frame(**fields), top_n=top_n, as_of=as_of, budget=budget)
    if decisions:
        from recommender.feedback import mark_decisions

        result = mark_decisions(result, decisions)
    _print_recommendations(result, fmt)


@app.command()
@friendly_errors
def ui(
    model: ModelOpt = config.DEFAULT_MODEL_URI,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default; the "
                                      "page has no login).")] = config.DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, max=65535)] = config.DEFAULT_UI_PORT,
    data: Annotated[Path, typer.Option(
        "--data", parser=location, metavar="FOLDER|URL",
        help="Data folder (or fsspec URL) whose posts draw the weekly engagement sparklines "
             "(skipped if absent).")] = config.RAW_DIR,
    feedback_db: FeedbackDbOpt = None,
) -> None:
    """Serve the planner's web page: a brief in, an explained shortlist out.

    Pick a brand (or describe one), filter, get an explained, optionally budgeted shortlist,
    export it as CSV, accept or reject influencers (stored in --feedback-db; also
    POST/GET /api/feedback). Example:
    recommender ui --model models:/influencer-ranker@champion --port 8080
    """
    from recommender.web.app import app_for_model, listen, make_page_server

    warn_unless_loopback(host, "use the page (it has no login)")
    sock = listen(host, port)
    out.print(f"loading {model} ...", highlight=False)
    page = app_for_model(model, data if folder_exists(data) else None, feedback_db)
    server = make_page_server(page, sock)
    out.print(f"planner page on [bold]http://{host}:{server.port}/[/] (Ctrl+C stops it)",
              highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out.print("stopped")
    finally:
        server.server_close()
