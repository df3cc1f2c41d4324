"""The feedback store: planners' accept/reject decisions on shortlist rows, append-only, in a
SQLAlchemy database (a SQLite file by default; any SQLAlchemy URL, e.g. Postgres, for teams).

One table, `feedback_events`: who decided, when (UTC, set by the store), about which brand
and influencer, accept or reject, the rank and score the row was shown at (null when the
decision was not made on a shown list), the brief as JSON and a free-text reason. Rows are
only ever inserted (on SQLite, triggers refuse UPDATE and DELETE). An influencer's current
decision for a brand is its latest event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from recommender.errors import UserError

logger = logging.getLogger(__name__)

URL_ENV = "RECOMMENDER_FEEDBACK_URL"
DEFAULT_URL = "sqlite:///feedback.db"
DECISIONS = ("accept", "reject")
SOURCES = ("cli", "page", "rest", "simulated")
MAX_TEXT = 2_000
MAX_ID = 200
SQLITE_TIMEOUT_S = 30  # a writer waits this long for another's lock before failing

metadata = sa.MetaData()
events_table = sa.Table(
    "feedback_events", metadata,
    sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("who", sa.String(MAX_ID), nullable=False),
    sa.Column("brand_id", sa.String(MAX_ID), nullable=False, index=True),
    sa.Column("influencer_id", sa.String(MAX_ID), nullable=False),
    sa.Column("decision", sa.String(6), nullable=False),
    sa.Column("rank", sa.Integer, nullable=True),
    sa.Column("score", sa.Float, nullable=True),
    sa.Column("brief", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.CheckConstraint("decision IN ('accept', 'reject')", name="decision_known"),
)
_APPEND_ONLY = [
    sa.DDL(f"CREATE TRIGGER IF NOT EXISTS feedback_no_{op.lower()} BEFORE {op} ON "
           "feedback_events BEGIN SELECT RAISE(ABORT, 'feedback events are append-only'); END")
    for op in ("UPDATE", "DELETE")]
EVENT_FIELDS = ("brand_id", "influencer_id", "decision", "who", "rank", "score", "brief",
                "reason", "source", "at")
REQUIRED = ("brand_id", "influencer_id", "decision")


def feedback_url(url: str | None = None) -> str:
    """The store's URL: `url` if given, else $RECOMMENDER_FEEDBACK_URL, else DEFAULT_URL."""
    return url or os.environ.get(URL_ENV) or DEFAULT_URL


@dataclass(frozen=True)
class Event:
    """One checked decision, ready to be stored."""

    brand_id: str
    influencer_id: str
    decision: str
    who: str
    source: str
    rank: int | None = None
    score: float | None = None
    brief: dict[str, Any] | None = field(default=None, hash=False)
    reason: str | None = None
    at: dt.datetime | None = None  # None: the store's clock when recorded


def _fail(name: str, value: Any, rule: str) -> UserError:
    return UserError(f"feedback: {name} = {value!r}: {rule}")


def _text(raw: Mapping[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    v = raw.get(name)
    if v is None or (isinstance(v, str) and not v.strip()):
        if required:
            raise UserError(f"feedback: {name} is required")
        return None
    if not isinstance(v, str):
        raise _fail(name, v, "must be a string")
    if len(v) > limit:
        raise _fail(name, v[:40] + "...", f"longer than {limit} characters")
    return v.strip()


def check_event(raw: Mapping[str, Any], *, brand_ids: Iterable[str] | None = None,
                influencer_ids: Iterable[str] | None = None, who: str | None = None,
                source: str = "rest") -> Event:
    """One decision from raw fields, each checked; UserError names the field and value.

    `brand_ids` / `influencer_ids` (the ranker's catalogue), when given, must hold the ids.
    `who` is the default for a missing `who` field.
    """
    if not isinstance(raw, Mapping):
        raise UserError(f"feedback: expected an object of fields ({', '.join(REQUIRED)}, ...), "
                        f"got {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in EVENT_FIELDS)
    if unknown:
        raise UserError(f"feedback: unknown field(s) {', '.join(unknown)}; known fields: "
                        f"{', '.join(EVENT_FIELDS)}")
    brand = _text(raw, "brand_id", MAX_ID, required=True)
    influencer = _text(raw, "influencer_id", MAX_ID, required=True)
    decision = _text(raw, "decision", 10, required=True)
    if decision not in DECISIONS:
        raise _fail("decision", decision, f"must be one of {', '.join(DECISIONS)}")
    if brand_ids is not None and brand not in brand_ids:
        raise _fail("brand_id", brand, "is not a brand in the model's data")
    if influencer_ids is not None and influencer not in influencer_ids:
        raise _fail("influencer_id", influencer, "is not an influencer in the model's "
                    "catalogue")
    rank = raw.get("rank")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank < 1):
        raise _fail("rank", rank, "must be a whole number >= 1 (the position it was shown at)")
    score = raw.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)
                              or not math.isfinite(score)):
        raise _fail("score", score, "must be a finite number")
    brief = raw.get("brief")
    if brief is not None and not isinstance(brief, Mapping):
        raise _fail("brief", brief, "must be an object (the brief the row was shown for)")
    src = _text(raw, "source", 16) or source
    if src not in SOURCES:
        raise _fail("source", src, f"must be one of {', '.join(SOURCES)}")
    at = raw.get("at")
    if at is not None:
        try:
            at = pd.Timestamp(at)
        except (TypeError, ValueError):
            raise _fail("at", at, "must be an ISO 8601 timestamp") from None
        at = (at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC"))
        at = at.to_pydatetime()
    return Event(brand_id=brand, influencer_id=influencer, decision=decision,
                 who=_text(raw, "who", MAX_ID) or who or "unknown", source=src,
                 rank=rank, score=None if score is None else float(score),
                 brief=dict(brief) if brief is not None else None,
                 reason=_text(raw, "reason", MAX_TEXT), at=at)


def _sqlite_file(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


class FeedbackStore:
    """The append-only event table at one SQLAlchemy URL (created on first write)."""

    def __init__(self, url: str | None = None) -> None:
        self.url = feedback_url(url)
        try:
            parsed = sa.make_url(self.url)
        except sa.exc.ArgumentError:
            raise UserError(f"feedback store URL {self.url!r}: not a SQLAlchemy URL such as "
                            "sqlite:///feedback.db") from None
        self.sqlite_file = _sqlite_file(parsed)
        sqlite = parsed.get_backend_name() == "sqlite"
        try:
            self.engine = sa.create_engine(
                parsed, connect_args={"timeout": SQLITE_TIMEOUT_S} if sqlite else {})
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise UserError(f"feedback store URL {self.url!r}: {exc}") from None
        if sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._ready = False

    def _create(self) -> None:
        if self._ready:
            return
        if self.sqlite_file is not None:
            self.sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(3):  # another writer may create it between check and CREATE
            try:
                with self.engine.begin() as conn:
                    metadata.create_all(conn, checkfirst=True)
                    if self.engine.dialect.name == "sqlite":
                        for ddl in _APPEND_ONLY:
                            conn.execute(ddl)
                break
            except sa.exc.DBAPIError:
                if attempt == 2:
                    raise
        self._ready = True

    def _exists(self) -> bool:
        if self._ready:
            return True
        if self.sqlite_file is not None and not self.sqlite_file.exists():
            return False  # reading never creates a database file
        return sa.inspect(self.engine).has_table(events_table.name)

    def record(self, events: Event | Iterable[Event]) -> list[int]:
        """Append events in one transaction; their event ids."""
        batch = [events] if isinstance(events, Event) else list(events)
        self._create()
        now = dt.datetime.now(dt.UTC)
        rows = [{"at": e.at or now, "who": e.who, "brand_id": e.brand_id,
                 "influencer_id": e.influencer_id, "decision": e.decision, "rank": e.rank,
                 "score": e.score, "reason": e.reason, "source": e.source,
                 "brief": None if e.brief is None else json.dumps(e.brief, sort_keys=True,
                                                                   default=str)}
                for e in batch]
        ids = []
        with self.engine.begin() as conn:
            for row in rows:  # one by one: the ids, in any dialect
                ids.append(conn.execute(events_table.insert().values(**row))
                           .inserted_primary_key[0])
        logger.info("recorded %d feedback event(s) in %s", len(ids), self.url)
        return ids

    def events(self, brand_id: str | None = None, influencer_id: str | None = None
               ) -> pd.DataFrame:
        """Stored events (optionally of one brand / influencer), oldest first."""
        columns = [c.name for c in events_table.columns]
        if not self._exists():
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        q = sa.select(events_table).order_by(events_table.c.event_id)
        if brand_id is not None:
            q = q.where(events_table.c.brand_id == brand_id)
        if influencer_id is not None:
            q = q.where(events_table.c.influencer_id == influencer_id)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(q).mappings().all(), columns=columns)
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    def decisions(self, brand_id: str) -> dict[str, str]:
        """The current decision (the latest event) per influencer, for one brand."""
        ev = self.events(brand_id=brand_id)
        return dict(zip(ev["influencer_id"], ev["decision"], strict=True)) if len(ev) else {}


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL: readers do not block the writer; two writers queue on the lock (timeout)."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def apply_feedback(brief: Mapping[str, Any], decisions: Mapping[str, str],
                   include_rejected: bool = False) -> dict[str, Any]:
    """The brief with the brand's rejected influencers added to its exclusions (unless
    `include_rejected`); a new dict."""
    out = dict(brief)
    rejected = sorted(i for i, d in decisions.items() if d == "reject")
    if rejected and not include_rejected:
        given = out.get("exclude_influencer_ids") or []
        given = [given] if isinstance(given, str) else list(given)
        out["exclude_influencer_ids"] = list(dict.fromkeys([*given, *rejected]))
    return out


def mark_decisions(result: pd.DataFrame, decisions: Mapping[str, str]) -> pd.DataFrame:
    """The ranker's rows with a `feedback` column: 'accepted', 'rejected' or ''."""
    words = {"accept": "accepted", "reject": "rejected"}
    return result.assign(feedback=[words.get(decisions.get(str(i), ""), "")
                                   for i in result["influencer_id"]])
