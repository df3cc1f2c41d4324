"""The planner page: a Flask app over the in-process ranker (brief form, shortlist, CSV)."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

import pandas as pd
from flask import Flask, Response, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from recommender.contract import NICHES, PLATFORMS
from recommender.errors import UserError
from recommender.web import view
from recommender.web.form import FIELDS, TARGET_FIELDS, BriefForm, parse_brief
from recommender.web.snapshot import (
    SPARK_WEEKS,
    Shares,
    brand_choices,
    brand_lookup,
    brand_targets,
)

logger = logging.getLogger(__name__)

MAX_QUERY_BYTES = 8_192
MAX_BODY_BYTES = 16_384
BRAND_SUGGESTIONS = 20
BRAND_OPTIONS_FIRST = 50
# Ranker message words -> the form field beside which its error is shown.
_FIELD_WORDS = [("brand_id", "brand"), ("category", "category"), ("platform", "platform"),
                ("min_followers", "min_followers"), ("max_followers", "max_followers"),
                ("max_price", "max_price"), ("niche", "niche"), ("budget", "budget"),
                ("top_n", "top_n"), ("country", "country"), ("target", "target_age")]


@dataclass
class PageContext:
    """What every page shows about the ranker, computed once at start."""

    ranker: object
    ds: object
    as_of: pd.Timestamp
    as_of_text: str
    model_text: str
    brands: pd.DataFrame
    lookup: dict[str, str]
    niches: list[str]
    categories: list[str]


def page_context(ranker, model_text: str) -> PageContext:
    """Read the ranker's snapshot once: brands, niches, the as-of time."""
    ds = ranker.dataset
    as_of = pd.Timestamp(ranker.as_of)
    brands = brand_choices(ds)
    niches = sorted(set(ds.influencers["niche"].dropna().astype("str")) | set(NICHES))
    categories = sorted(set(ds.brands["category"].dropna().astype("str")) | set(NICHES))
    return PageContext(ranker, ds, as_of, f"{as_of:%Y-%m-%d %H:%M} UTC", model_text, brands,
                       brand_lookup(brands), niches, categories)


def field_of(message: str) -> str:
    """The form field a ranker error message names ('brief' when none)."""
    low = message.lower()
    for word, name in _FIELD_WORDS:
        if re.search(rf"\b{re.escape(word)}\b", low):
            return name
    return "brief"


def to_ranker_brief(brief: dict[str, object]) -> pd.DataFrame:
    """The form's brief as the ranker's one-row brief frame."""
    row = dict(brief)
    targets = {k: row.pop(k) for k in [k for k in row if k.startswith("target_")]}
    if targets:
        row["target_audience"] = {k.removeprefix("target_"): v for k, v in targets.items()}
    return pd.DataFrame([row])


def _describe(ctx: PageContext, form: BriefForm) -> tuple[str, str, Shares]:
    b = form.brief
    if "brand_id" in b:
        hit = ctx.brands[ctx.brands["brand_id"] == b["brand_id"]].iloc[0]
        extra = " · ".join(str(x) for x in (hit["category"], hit["country"]) if pd.notna(x))
        text = f"{hit['label']} ({extra})" if extra else str(hit["label"])
        target = brand_targets(ctx.ds, str(b["brand_id"]))
    else:
        text = f"a new {b['category']} brand" + (f" in {b['country']}" if b.get("country") else "")
        target = form.targets
    v = form.values
    filters = [f"{v['platform'].capitalize() or 'Any platform'}",
               f"{v['niche'] or 'any niche'}",
               _follower_range(b.get("min_followers"), b.get("max_followers"))]
    if v["country"]:
        filters.append(f"based in {v['country'].upper()}")
    if v["max_price"]:
        filters.append(f"at most ${v['max_price']} a post")
    return text, " · ".join(filters), target


def _follower_range(lo: object, hi: object) -> str:
    if lo is None and hi is None:
        return "any number of followers"
    if hi is None:
        return f"at least {lo:,} followers"
    return f"{lo or 0:,} to {hi:,} followers"


def rank(ctx: PageContext, form: BriefForm) -> view.Shortlist | None:
    """Run the ranker on a valid form; a UserError lands on the field it names."""
    try:
        result = ctx.ranker.recommend(to_ranker_brief(form.brief), top_n=form.top_n,
                                      budget=form.budget)
    except UserError as exc:
        form.errors[field_of(str(exc))] = str(exc)
        return None
    _, _, target = _describe(ctx, form)
    return view.build_shortlist(result, ctx.ds, ctx.as_of, target, form.budget)


def create_app(ranker, model_text: str) -> Flask:
    """The Flask app of the page; `ranker` has `recommend`, `dataset` and `as_of`."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES, JSON_SORT_KEYS=False)
    ctx = page_context(ranker, model_text)
    lock = threading.Lock()  # one ranking at a time: predictable memory on a small machine

    @app.before_request
    def _limit_query():
        if len(request.query_string) > MAX_QUERY_BYTES:
            return _error_page(414, "Brief too long", "This brief is longer than the page "
                               "accepts. Start a new brief.")
        return None

    @app.context_processor
    def _common():
        return {"as_of_text": ctx.as_of_text, "model_text": ctx.model_text}

    def _form() -> BriefForm:
        return parse_brief(request.args, ctx.lookup, ctx.niches)

    def _shortlist(form: BriefForm) -> view.Shortlist | None:
        if not form.ok:
            return None
        with lock:
            return rank(ctx, form)

    @app.get("/")
    def index():
        form = _form()
        shortlist = _shortlist(form)
        query = {k: form.values[k] for k in FIELDS if form.values.get(k)}
        brand_text, filter_text, _ = _describe(ctx, form) if shortlist else ("", "", {})
        return render_template(
            "index.html", form=form, rows=shortlist.rows if shortlist else [],
            budget=shortlist.budget if shortlist else None, brand_text=brand_text,
            filter_text=filter_text, export_url=url_for("export") + "?" + urlencode(query),
            brand_options=ctx.brands.head(BRAND_OPTIONS_FIRST).to_dict("records"),
            example_brand=ctx.brands["label"].iloc[0] if len(ctx.brands) else "",
            categories=ctx.categories, niches=ctx.niches, platforms=PLATFORMS,
            target_fields=TARGET_FIELDS, spark_weeks=SPARK_WEEKS,
        ), 200 if not form.errors else 422

    @app.get("/export.csv")
    def export():
        form = _form()
        shortlist = _shortlist(form)
        if shortlist is None:
            text = "\n".join(f"{k}: {v}" for k, v in form.errors.items()) or "no brief given"
            return Response(text + "\n", status=422, mimetype="text/plain")
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", str(form.brief.get("brand_id", "new-brand")))
        body = view.shortlist_csv(shortlist, ctx.as_of_text, ctx.model_text)
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="shortlist-{name[:60]}.csv"'})

    @app.get("/brands.json")
    def brands():
        q = request.args.get("q", "").strip().lower()[:100]
        b = ctx.brands
        hits = b[b["label"].str.lower().str.contains(q, regex=False)] if q else b
        return jsonify([{k: (None if pd.isna(v) else str(v)) for k, v in r.items()}
                        for r in hits.head(BRAND_SUGGESTIONS).to_dict("records")])

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "as_of": ctx.as_of_text, "model": ctx.model_text}

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return _error_page(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        logger.exception("unexpected error on %s", request.path)
        return _error_page(500, "Something went wrong", "The shortlist could not be made. "
                           "The error is in the server's log; try again or change the brief.")

    return app


def _error_page(code: int, heading: str, message: str):
    return render_template("error.html", heading=heading, message=message), code
