"""The feedback command: record a planner's accept/reject of an influencer for a brand, or
list what was recorded."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.table import Table

from recommender import config
from recommender.cli.common import FeedbackDbOpt, ModelOpt, app, friendly_errors, out


def _planner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@app.command()
@friendly_errors
def feedback(
    brand: Annotated[str | None, typer.Option(help="brand_id the decision is for.")] = None,
    influencer: Annotated[str | None, typer.Option(help="influencer_id decided on.")] = None,
    accept: Annotated[bool | None, typer.Option("--accept/--reject", help="Accept or reject "
                                                "the influencer for the brand.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, in a few words.")] = None,
    rank: Annotated[int | None, typer.Option(help="Position it was shown at, if from a "
                                             "shortlist.")] = None,
    who: Annotated[str | None, typer.Option(help="Planner's name; default: your login.")
                   ] = None,
    list_events: Annotated[bool, typer.Option("--list", help="List the recorded events "
                                              "(of --brand / --influencer if given).")] = False,
    fmt: Annotated[str, typer.Option("--format", help="--list as table, csv or json.")
                   ] = "table",
    feedback_db: FeedbackDbOpt = None,
    model: ModelOpt = config.DEFAULT_MODEL_URI,
) -> None:
    """Record a planner's decision on an influencer for a brand (append-only), or list them.

    Rejected influencers are left out of that brand's later shortlists (recommend, the page)
    unless --include-rejected; accepted ones are marked. Ids are checked against the model's
    catalogue (--model). Example:
    recommender feedback --brand b007 --influencer i00042 --reject --reason "off-brand tone"
    List: recommender feedback --list --brand b007
    """
    from recommender.errors import UserError
    from recommender.feedback import FeedbackStore, check_event

    store = FeedbackStore(feedback_db)
    if list_events:
        if fmt not in ("table", "csv", "json"):
            raise UserError(f"--format {fmt!r}: must be table, csv or json")
        _print_events(store.events(brand_id=brand, influencer_id=influencer), fmt)
        return
    if accept is None:
        raise UserError("feedback: decision is required: give --accept or --reject "
                        "(or --list to see what was recorded)")
    for name, value in (("--brand", brand), ("--influencer", influencer)):
        if not value:
            raise UserError(f"feedback: {name} is required")
    from recommender.pyfunc import catalogue_ids

    brand_ids, influencer_ids = catalogue_ids(model)
    event = check_event({"brand_id": brand, "influencer_id": influencer,
                         "decision": "accept" if accept else "reject", "reason": reason,
                         "rank": rank, "who": who},
                        brand_ids=brand_ids, influencer_ids=influencer_ids, who=_planner(),
                        source="cli")
    (event_id,) = store.record(event)
    out.print(f"recorded event {event_id}: {event.who} {event.decision}ed {influencer} for "
              f"{brand} in {store.url}", highlight=False)


def _print_events(events, fmt: str) -> None:
    if fmt == "csv":
        sys.stdout.write(events.to_csv(index=False))
        return
    if fmt == "json":
        sys.stdout.write(events.to_json(orient="records", date_format="iso", indent=1) + "\n")
        return
    if events.empty:
        out.print("no feedback recorded")
        return
    table = Table(title="Feedback events")
    for name in ("#", "when (UTC)", "who", "brand", "influencer", "decision", "rank", "reason"):
        table.add_column(name)
    import pandas as pd

    for e in events.itertuples(index=False):
        table.add_row(str(e.event_id), f"{e.at:%Y-%m-%d %H:%M}", e.who, e.brand_id,
                      e.influencer_id, e.decision, "" if pd.isna(e.rank) else str(int(e.rank)),
                      "" if pd.isna(e.reason) else str(e.reason))
    out.print(table)
