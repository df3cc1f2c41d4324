"""The planner page: a Flask app over the in-process ranker (brief form, shortlist, CSV)."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
from flask import Flask, Response, g, jsonify, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from recommender import config
from recommender.contract import PLATFORMS
from recommender.errors import UserError
from recommender.web import view
from recommender.web.form import FIELDS, TARGET_FIELDS, BriefForm, parse_brief
from recommender.web.live import RELOAD_SECONDS, Live, Loaded, loaded
from recommender.web.snapshot import SPARK_WEEKS, PageData, Shares, brand_targets

logger = logging.getLogger(__name__)

MAX_QUERY_BYTES = 8_192
MAX_BODY_BYTES = 16_384
BRAND_SUGGESTIONS = 20
BRAND_OPTIONS_FIRST = 50
PAGE_THREADS = 8  # requests answered at once (ranking releases the GIL in LightGBM/lleaves)
# A ranker error names the brief's field first ("brief 0: country = 'USA': ..."): the form
# field beside which it is shown.
_FIELD_OF = {"brand_id": "brand", "category": "category", "brand_country": "market",
             "target_age": "target_age", "target_gender": "target_gender",
             "platform": "platform", "country": "country", "min_followers": "min_followers",
             "max_followers": "max_followers", "max_price": "max_price", "niche": "niche",
             "like": "like", "top_n": "top_n", "budget": "budget", "as_of": "as_of"}
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


def rank(ranker, data: PageData, form: BriefForm,
         decisions: dict[str, str] | None = None) -> view.Shortlist | None:
    """Run the ranker on a valid form; a UserError lands beside the field it names.

    `decisions` (influencer id -> the brand's latest accept/reject): rejected ones are left
    out, accepted ones marked (recommender.feedback)."""
    from recommender.feedback import apply_feedback, mark_decisions

    brief = apply_feedback(form.brief, decisions or {})
    try:
        result = ranker.recommend(pd.DataFrame([brief]), top_n=form.top_n,
                                  budget=form.budget, as_of=form.as_of)
    except UserError as exc:
        name, text = field_of(str(exc))
        form.errors[name] = text
        return None
    if decisions:
        result = mark_decisions(result, decisions)
    return view.build_shortlist(result, data, target_of(data, form), form.budget)


def create_app(ranker, model_text: str, data_dir: Path | None = None, *,
               live: Live | None = None, feedback_url: str | None = None) -> Flask:
    """The page's Flask app over `ranker` (a recommender.ranker.Ranker).

    `model_text` names the model on the page; the posts of `data_dir` (optional) draw the
    engagement sparklines. `live` (instead of the three): the ranker of a registry alias,
    swapped when the alias moves. Requests rank concurrently (the ranker is thread-safe);
    each one reads the ranker current when it starts. Planners' decisions go to the feedback
    store at `feedback_url` (default: recommender.feedback.feedback_url()).
    """
    from recommender.feedback import FeedbackStore
    from recommender.web.feedback import add_feedback_routes

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    live = live or Live(loaded(ranker, model_text, data_dir))
    store = FeedbackStore(feedback_url)
    add_feedback_routes(app, lambda: live.current().ranker, store)

    @app.before_request
    def _limit_query():
        g.now = live.current()
        if len(request.query_string) > MAX_QUERY_BYTES:
            return _error_page(414, "Brief too long",
                               "This brief is longer than the page accepts. Start a new brief.")
        return None

    @app.context_processor
    def _common():
        now = g.get("now") or live.current()
        return {"as_of_text": now.as_of_text, "model_text": now.model_text}

    def _ranked() -> tuple[BriefForm, view.Shortlist | None]:
        form = parse_brief(request.args, g.now.data.lookup)
        if not form.ok:
            return form, None
        brand = form.brief.get("brand_id")
        decisions = store.decisions(str(brand)) if brand else None
        return form, rank(g.now.ranker, g.now.data, form, decisions)

    @app.get("/")
    def index():
        form, shortlist = _ranked()
        data = g.now.data
        query = {k: form.values[k] for k in FIELDS if form.values.get(k)}
        brand_text, filter_text = describe(data, form) if shortlist else ("", "")
        page = render_template(
            "index.html", form=form, shortlist=shortlist, brand_text=brand_text,
            filter_text=filter_text, export_url=url_for("export") + "?" + urlencode(query),
            brand_options=data.brands.head(BRAND_OPTIONS_FIRST).to_dict("records"),
            example_brand=data.brands["label"].iloc[0] if len(data.brands) else "",
            categories=data.categories, niches=data.niches, platforms=PLATFORMS,
            target_fields=TARGET_FIELDS, spark_weeks=SPARK_WEEKS, weekly_note=data.weekly_note,
            feedback_brand=form.brief.get("brand_id") if shortlist else None,
            feedback_next=request.full_path)
        return page, 422 if form.errors else 200

    @app.get("/export.csv")
    def export():
        form, shortlist = _ranked()
        data, as_of_text, model_text = g.now.data, g.now.as_of_text, g.now.model_text
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
        b = g.now.data.brands
        hits = b[b["label"].str.lower().str.contains(q, regex=False)] if q else b
        return jsonify([{k: (None if pd.isna(v) else str(v)) for k, v in r.items()}
                        for r in hits.head(BRAND_SUGGESTIONS).to_dict("records")])

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "as_of": g.now.as_of_text, "model": g.now.model_text}

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


def app_for_model(model_uri: str, data_dir: Path | None = None,
                  reload_seconds: float = RELOAD_SECONDS, feedback_url: str | None = None
                  ) -> Flask:
    """The page over the ranker logged at `model_uri`, loaded in this process; the page names
    the registered version it loaded (resolved first, so an alias that moves cannot mislead).
    For an alias (`models:/NAME@ALIAS`), the registry is asked every `reload_seconds` which
    version it names, and a moved alias's version is loaded and served from then on."""
    from recommender.pyfunc import load_ranker

    if not model_uri.startswith("models:/"):
        return create_app(load_ranker(model_uri), model_uri, data_dir, feedback_url=feedback_url)
    from recommender.registry import resolve_version

    alias = model_uri.split("@", 1)[1] if "@" in model_uri else None

    def load(name: str, version: str) -> Loaded:
        label = f"{name} version {version}" + (f" ({alias})" if alias else "")
        return loaded(load_ranker(f"models:/{name}/{version}"), label, data_dir, version)

    def newer(version: str | None) -> Loaded | None:
        name, now = resolve_version(model_uri)
        return None if now == version else load(name, now)

    first = load(*resolve_version(model_uri))
    return create_app(None, "", live=Live(first, newer if alias else None, reload_seconds),
                      feedback_url=feedback_url)


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


class PageServer:
    """waitress (a production WSGI server: a thread per request, up to `threads` at once)
    serving the page on a listening socket."""

    def __init__(self, app: Flask, sock, threads: int) -> None:
        from waitress.server import create_server

        self._server = create_server(app, sockets=[sock], threads=threads,
                                     clear_untrusted_proxy_headers=True)
        self.server_address = sock.getsockname()[:2]
        self.port = self.server_address[1]

    def serve_forever(self) -> None:
        self._server.run()

    def shutdown(self) -> None:
        """Stop accepting and answering; safe to call from another thread."""
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        self._server.close()

    def server_close(self) -> None:
        self._server.close()


def make_page_server(app: Flask, sock, threads: int = PAGE_THREADS) -> PageServer:
    """The page's production server for `app` on the listening socket `sock`."""
    return PageServer(app, sock, threads)
