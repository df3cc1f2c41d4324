"""The planner page: a Flask app over the in-process ranker (brief form, shortlist, CSV)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
from flask import Flask, Response, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from recommender import config
from recommender.contract import PLATFORMS
from recommender.errors import UserError
from recommender.web import view
from recommender.web.form import FIELDS, TARGET_FIELDS, BriefForm, parse_brief
from recommender.web.snapshot import SPARK_WEEKS, PageData, Shares, brand_targets, page_data

logger = logging.getLogger(__name__)

MAX_QUERY_BYTES = 8_192
MAX_BODY_BYTES = 16_384
BRAND_SUGGESTIONS = 20
BRAND_OPTIONS_FIRST = 50
# A ranker error names the brief's field first ("brief 0: country = 'USA': ..."): the form
# field beside which it is shown.
_FIELD_OF = {"brand_id": "brand", "category": "category", "brand_country": "market",
             "target_age": "target_age", "target_gender": "target_gender",
             "platform": "platform", "country": "country", "min_followers": "min_followers",
             "max_followers": "max_followers", "max_price": "max_price", "niche": "niche",
             "top_n": "top_n", "budget": "budget", "as_of": "as_of"}
_FIELD_NAME = re.compile(r"^(?:brief [^:]*:\s*)?([a-z_]+)")
_BRIEF_PREFIX = re.compile(r"^brief [^:]*:\s*")


def field_of(message: str) -> tuple[str, str]:
    """The form field a ranker error names ('brief' when none), and the message to show."""
    m = _FIELD_NAME.match(message)
    return _FIELD_OF.get(m.group(1) if m else "", "brief"), _BRIEF_PREFIX.sub("", message)


def target_of(data: PageData, form: BriefForm) -> Shares:
    """The brand's target audience: the data's for a known brand, else the form's."""
    if "brand_id" in form.brief:
        return brand_targets(data.ds, str(form.brief["brand_id"]))
    return form.targets


def describe(data: PageData, form: BriefForm) -> tuple[str, str]:
    """The brand in words and the filters in words."""
    b = form.brief
    if "brand_id" in b:
        hit = data.brands[data.brands["brand_id"] == b["brand_id"]].iloc[0]
        extra = " · ".join(str(x) for x in (hit["category"], hit["country"]) if pd.notna(x))
        text = f"{hit['label']} · {extra}" if extra else str(hit["label"])
    else:
        market = str(b.get("brand_country", "")).upper()
        text = f"a new {str(b['category']).lower()} brand" + (f" in {market}" if market else "")
    lo = b.get("min_followers", config.MICRO_MIN_FOLLOWERS)  # the ranker's defaults
    hi = b.get("max_followers", config.MICRO_MAX_FOLLOWERS)
    filters = [str(b.get("platform", "any platform")).capitalize(),
               f"{str(b.get('niche', 'any')).lower()} niche", f"{lo:,} to {hi:,} followers"]
    if "country" in b:
        filters.append(f"based in {str(b['country']).upper()}")
    if "max_price" in b:
        filters.append(f"at most ${b['max_price']:,.0f} a post")
    return text, " · ".join(filters)


def rank(ranker, data: PageData, form: BriefForm) -> view.Shortlist | None:
    """Run the ranker on a valid form; a UserError lands beside the field it names."""
    try:
        result = ranker.recommend(pd.DataFrame([form.brief]), top_n=form.top_n,
                                  budget=form.budget, as_of=form.as_of)
    except UserError as exc:
        name, text = field_of(str(exc))
        form.errors[name] = text
        return None
    return view.build_shortlist(result, data, target_of(data, form), form.budget)


def create_app(ranker, model_text: str, data_dir: Path | None = None) -> Flask:
    """The page's Flask app over `ranker` (a recommender.ranker.Ranker).

    `model_text` names the model on the page; the posts of `data_dir` (optional) draw the
    engagement sparklines.
    """
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    data = page_data(ranker, data_dir)
    as_of_text = f"{data.as_of:%Y-%m-%d %H:%M} UTC"
    lock = threading.Lock()  # one ranking at a time: predictable memory on a small machine

    @app.before_request
    def _limit_query():
        if len(request.query_string) > MAX_QUERY_BYTES:
            return _error_page(414, "Brief too long",
                               "This brief is longer than the page accepts. Start a new brief.")
        return None

    @app.context_processor
    def _common():
        return {"as_of_text": as_of_text, "model_text": model_text}

    def _ranked() -> tuple[BriefForm, view.Shortlist | None]:
        form = parse_brief(request.args, data.lookup)
        if not form.ok:
            return form, None
        with lock:
            return form, rank(ranker, data, form)

    @app.get("/")
    def index():
        form, shortlist = _ranked()
        query = {k: form.values[k] for k in FIELDS if form.values.get(k)}
        brand_text, filter_text = describe(data, form) if shortlist else ("", "")
        page = render_template(
            "index.html", form=form, shortlist=shortlist, brand_text=brand_text,
            filter_text=filter_text, export_url=url_for("export") + "?" + urlencode(query),
            brand_options=data.brands.head(BRAND_OPTIONS_FIRST).to_dict("records"),
            example_brand=data.brands["label"].iloc[0] if len(data.brands) else "",
            categories=data.categories, niches=data.niches, platforms=PLATFORMS,
            target_fields=TARGET_FIELDS, spark_weeks=SPARK_WEEKS, weekly_note=data.weekly_note)
        return page, 422 if form.errors else 200

    @app.get("/export.csv")
    def export():
        form, shortlist = _ranked()
        if shortlist is None:
            text = "\n".join(f"{k}: {v}" for k, v in form.errors.items()) or "no brief given"
            return Response(text + "\n", status=422, mimetype="text/plain")
        brand_text, _ = describe(data, form)
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", str(form.brief.get("brand_id", "new-brand")))
        body = view.shortlist_csv(shortlist, brand_text, as_of_text, model_text)
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="shortlist-{slug[:60]}.csv"'})

    @app.get("/brands.json")
    def brands():
        q = request.args.get("q", "").strip().lower()[:100]
        b = data.brands
        hits = b[b["label"].str.lower().str.contains(q, regex=False)] if q else b
        return jsonify([{k: (None if pd.isna(v) else str(v)) for k, v in r.items()}
                        for r in hits.head(BRAND_SUGGESTIONS).to_dict("records")])

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "as_of": as_of_text, "model": model_text}

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return _error_page(exc.code or 500, exc.name, exc.description or "")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        logger.exception("unexpected error on %s", request.path)
        return _error_page(500, "Something went wrong",
                           "The shortlist could not be made; the details are in the server's "
                           "log. Try again, or change the brief.")

    return app


def _error_page(code: int, heading: str, message: str):
    return render_template("error.html", heading=heading, message=message), code


def app_for_model(model_uri: str, data_dir: Path | None = None) -> Flask:
    """The page over the ranker logged at `model_uri`, loaded in this process; the page names
    the registered version it loaded (resolved first, so an alias that moves cannot mislead)."""
    from recommender.pyfunc import load_ranker

    label = model_uri
    if model_uri.startswith("models:/"):
        from recommender.registry import resolve_version

        name, version = resolve_version(model_uri)
        alias = model_uri.split("@", 1)[1] if "@" in model_uri else None
        model_uri = f"models:/{name}/{version}"
        label = f"{name} version {version}" + (f" ({alias})" if alias else "")
    return create_app(load_ranker(model_uri), label, data_dir)


def listen(host: str, port: int):
    """A listening socket on host:port (port 0: a free one); UserError if it cannot be bound.

    Bound before the model loads, so that a busy port is a one-line error at once.
    """
    import socket

    from werkzeug.serving import get_sockaddr, select_address_family

    family = select_address_family(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(get_sockaddr(host, port, family))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UserError(f"--host {host} --port {port}: cannot listen there "
                        f"({exc.strerror or exc}); choose another --port") from None
    return sock


def make_page_server(app: Flask, sock):
    """A threaded WSGI server for `app` on the listening socket `sock` (which it takes over)."""
    from werkzeug.serving import make_server

    host, port = sock.getsockname()[:2]
    try:
        return make_server(host, port, app, threaded=True, fd=sock.fileno())
    finally:
        sock.close()  # the server holds its own duplicate of the socket
