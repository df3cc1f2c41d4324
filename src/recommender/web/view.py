"""The shortlist as the page and the CSV show it: formatted rows, charts, budget summary."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import pandas as pd
from markupsafe import Markup

from recommender.contract import AGE_SEGMENTS, GENDER_SEGMENTS
from recommender.web import svg
from recommender.web.snapshot import PageData, Shares, audience_shares, series_of

CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FLAT = 0.05  # a trend within +-5% is shown as flat
TREND_TIP = "mean engagement rate of the last 90 days against the 275 days before"


def _money(x: float) -> str:
    return "no price" if not math.isfinite(x) else f"${x:,.0f}"


def _pct(x: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}%}"


def _float(x: object) -> float:
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def audience_charts(aud: Shares, target: Shares) -> tuple[Markup, Markup]:
    """Age and gender share bars of one influencer against the brand's target."""
    out = []
    for dim, order in (("age", AGE_SEGMENTS), ("gender", GENDER_SEGMENTS)):
        a_dim, t_dim = aud.get(dim), target.get(dim)
        if not a_dim and not t_dim:
            out.append(Markup(""))
            continue
        known = set(a_dim or {}) | set(t_dim or {})
        segs = [s for s in order if s in known] + sorted(known - set(order))
        out.append(svg.share_bars(
            segs, [a_dim.get(s, 0.0) if a_dim else None for s in segs],
            [t_dim.get(s, 0.0) if t_dim else None for s in segs],
            title=f"{dim}: followers against the brand's target"))
    return out[0], out[1]


def _trend(change: float) -> tuple[str, str]:
    """Text and CSS class of the engagement trend (er_trend is a ratio: 1.0 = no change)."""
    if not math.isfinite(change):
        return "", ""
    rel = change - 1.0
    if rel > FLAT:
        return f"▲ {rel:+.0%}", "up"
    if rel < -FLAT:
        return f"▼ {rel:+.0%}", "down"
    return f"● {rel:+.0%}", "flat"


@dataclass
class Shortlist:
    """The page's view of one ranked brief."""

    rows: list[dict]
    budget: dict | None


def _budget_summary(result: pd.DataFrame, budget: float) -> dict:
    first = result.iloc[0] if len(result) else None
    unpriced = int(first["unpriced_left_out"]) if first is not None else 0
    notes = []
    if first is None:
        notes.append("No influencer fits this budget: raise it, lower the maximum price or "
                     "widen the filters.")
    if unpriced:
        notes.append(f"{unpriced:,} influencer{'s' if unpriced != 1 else ''} without a price "
                     "left out.")
    return {"budget": _money(budget), "count": len(result),
            "cost": _money(_float(first["total_price"]) if first is not None else 0.0),
            "expected": f"{_float(first['expected_conversions']) if first is not None else 0:.2f}",
            "note": " ".join(notes)}


def build_shortlist(result: pd.DataFrame, data: PageData, target: Shares,
                    budget: float | None) -> Shortlist:
    """Format the ranker's rows for the table: bars, sparklines, audience charts, budget.

    With a budget, the ranker's rows are the chosen set itself.
    """
    ids = result["influencer_id"].astype("str").tolist()
    series = series_of(data.weekly, ids)
    audiences = audience_shares(data.ds, ids)
    trends = data.er_trend.reindex(pd.Index(ids, dtype="str")).to_numpy()
    top = float(result["score"].max()) if len(result) else 1.0
    rows = []
    for rec, change in zip(result.to_dict("records"), trends, strict=True):
        iid = str(rec["influencer_id"])
        score, price = _float(rec["score"]), _float(rec["price_per_post"])
        er = _float(rec["engagement_rate_90d"])
        age, gender = audience_charts(audiences.get(iid, {}), target)
        trend_text, trend_class = _trend(change)
        details = " · ".join(str(rec[c]) for c in ("platform", "niche", "country")
                             if isinstance(rec.get(c), str))
        weeks = series[iid]
        rows.append({
            "rank": int(rec["rank"]), "influencer_id": iid, "details": details,
            "handle": _text(rec.get("handle")).lstrip("@"),
            "profile_url": _text(rec.get("profile_url")),
            "platform": rec.get("platform"), "niche": rec.get("niche"),
            "country": rec.get("country") if isinstance(rec.get("country"), str) else "",
            "score": score, "score_text": _pct(score), "bar": svg.probability_bar(score, top),
            "reasons": [str(r) for r in rec["reasons"]],
            "followers": int(rec["followers"]), "followers_text": f"{int(rec['followers']):,}",
            "er": er, "er_text": _pct(er, 2), "trend": change, "trend_text": trend_text,
            "trend_class": trend_class, "trend_tip": TREND_TIP,
            "spark": svg.sparkline(weeks, label=f"weekly engagement rate of {iid}")
            if any(math.isfinite(w) for w in weeks) else Markup(""),
            "age_svg": age, "gender_svg": gender,
            "audience_match": _float(rec.get("audience_match")),
            "price": price, "price_text": _money(price),
            "feedback": str(rec.get("feedback") or ""),
        })
    return Shortlist(rows, None if budget is None else _budget_summary(result, budget))


def _text(value: object) -> str:
    """A text cell of the ranker's output ('' when missing)."""
    return value if isinstance(value, str) else ""


def _num(x: float, digits: int) -> str:
    return "" if not math.isfinite(x) else f"{x:.{digits}f}"


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return "'" + value
    return value


def shortlist_csv(shortlist: Shortlist, brand: str, as_of_text: str, model_text: str) -> str:
    """The shortlist as CSV text: one row per influencer, reasons in their own columns."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["rank", "influencer_id", "handle", "profile_url", "platform", "niche", "country",
                "conversion_probability", "reason_1", "reason_2", "reason_3", "followers",
                "engagement_rate_90d", "engagement_trend", "audience_match", "price_per_post",
                "brand", "data_as_of", "model"])
    for r in shortlist.rows:
        reasons = (r["reasons"] + ["", "", ""])[:3]
        row = [r["rank"], r["influencer_id"], r.get("handle", ""), r.get("profile_url", ""),
               r["platform"], r["niche"], r["country"],
               _num(r["score"], 4), *reasons, r["followers"], _num(r["er"], 5),
               _num(r["trend"] - 1.0, 3), _num(r["audience_match"], 3), _num(r["price"], 2),
               brand, as_of_text, model_text]
        w.writerow([_cell(v) for v in row])
    return buf.getvalue()
