"""The page's feedback routes: planners' accept/reject buttons and the REST API beside them.

POST /api/feedback   a JSON object (or a list of them) of recommender.feedback fields
                     -> 201 {"event_ids": [...]}; a bad field -> 400 {"error", "field"}
GET  /api/feedback   ?brand_id=&influencer_id= -> the stored events, oldest first
POST /feedback       the page's buttons (a form): record, then back to the shortlist
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, jsonify, redirect, render_template, request

from recommender.errors import UserError
from recommender.feedback import FeedbackStore, check_event

logger = logging.getLogger(__name__)

MAX_EVENTS_PER_REQUEST = 100
_FIELD = re.compile(r"^feedback: ([a-z_]+)")


def _field(message: str) -> str | None:
    m = _FIELD.match(message)
    return m.group(1) if m else None


def _same_origin() -> bool:
    """False for a browser request sent from another site (its Origin names another host)."""
    origin = request.headers.get("Origin")
    return not origin or urlsplit(origin).netloc == request.host


def add_feedback_routes(app: Flask, current: Callable[[], Any], store: FeedbackStore) -> None:
    """Register the feedback routes on the page's app; ids are checked against the ranker
    `current()` returns (the one the page serves now)."""

    def checked(raw, source: str):
        ranker = current()
        return check_event(raw, brand_ids=ranker.brand_index, influencer_ids=ranker.ids,
                           who=source, source=source)

    @app.post("/api/feedback")
    def feedback_api():
        if not _same_origin():
            return jsonify(error="feedback from another site is refused"), 403
        body = request.get_json(silent=True)
        if body is None:
            return jsonify(error="feedback: the body must be JSON (Content-Type: "
                                 "application/json), e.g. {\"brand_id\": \"b001\", "
                                 "\"influencer_id\": \"i00042\", \"decision\": \"reject\"}",
                           field=None), 400
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > MAX_EVENTS_PER_REQUEST:
            return jsonify(error=f"feedback: {len(items)} events; send 1 to "
                                 f"{MAX_EVENTS_PER_REQUEST}", field=None), 400
        try:
            events = [checked(raw, "rest") for raw in items]
        except UserError as exc:
            return jsonify(error=str(exc), field=_field(str(exc))), 400
        return jsonify(event_ids=store.record(events)), 201

    @app.get("/api/feedback")
    def feedback_list():
        events = store.events(brand_id=request.args.get("brand_id") or None,
                              influencer_id=request.args.get("influencer_id") or None)
        events = events.assign(at=events["at"].map(lambda t: t.isoformat()))
        records = [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in r.items()} for r in events.to_dict("records")]
        return jsonify(records)

    @app.post("/feedback")
    def feedback_form():
        if not _same_origin():
            return _refused(403, "This decision came from another site and was not recorded.")
        f = request.form
        raw = {k: f.get(k) for k in ("brand_id", "influencer_id", "decision", "reason", "who")}
        try:
            raw["rank"] = int(f["rank"]) if f.get("rank") else None
            raw["score"] = float(f["score"]) if f.get("score") else None
        except ValueError:
            return _refused(400, f"rank = {f.get('rank')!r} or score = {f.get('score')!r}: "
                                 "must be numbers")
        if raw["score"] is not None and not math.isfinite(raw["score"]):
            raw["score"] = None  # a brand-less lookalike row has no probability
        try:
            event = checked(raw, "page")
        except UserError as exc:
            return _refused(400, str(exc))
        store.record(event)
        back = f.get("next") or "/"
        if not back.startswith("/") or back.startswith("//"):  # never leave the page's site
            back = "/"
        return redirect(back, code=303)


def _refused(code: int, message: str):
    return render_template("error.html", heading="Decision not recorded", message=message), code
