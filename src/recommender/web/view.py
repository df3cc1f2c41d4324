"""The shortlist as the page and the CSV show it: formatted rows, charts, budget summary."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import pandas as pd

from recommender.contract import AGE_SEGMENTS, GENDER_SEGMENTS
from recommender.web import svg
from recommender.web.snapshot import Shares, audience_shares, trend, weekly_engagement

CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Columns:
    """Names of the ranker's output columns the page reads."""

    influencer_id: str = "influencer_id"
    rank: str = "rank"
    score: str = "score"
    platform: str = "platform"
    niche: str = "niche"
    followers: str = "followers"
    engagement: str = "engagement_rate"
    price: str = "price_per_post"
    reasons: str = "reasons"
    chosen: str = "selected"


COLS = Columns()


def _money(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"${x:,.0f}"


def _pct(x: float, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}%}"


def reasons_of(value: object) -> list[str]:
    """The ranker's reasons as a list of sentences (a list, an array or one '; '-joined text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [r.strip() for r in value.split(";") if r.strip()]
    return [str(r) for r in list(value)]


def _segments(shares: Shares, dim: str, order: tuple[str, ...]) -> list[str]:
    extra = sorted(set(shares.get(dim, {})) - set(order))
    return list(order) + extra


def audience_charts(aud: Shares, target: Shares) -> tuple[str, str]:
    """Age and gender share bars of one influencer against the brand's target."""
    out = []
    for dim, order in (("age", AGE_SEGMENTS), ("gender", GENDER_SEGMENTS)):
        if dim not in aud and dim not in target:
            out.append("")
            continue
        segs = [s for s in _segments(aud, dim, order)
                if aud.get(dim, {}).get(s, 0) > 0 or target.get(dim, {}).get(s, 0) > 0]
        a = [aud[dim].get(s, 0.0) if dim in aud else None for s in segs]
        t = [target[dim].get(s, 0.0) if dim in target else None for s in segs]
        out.append(svg.share_bars(segs, a, t, title=f"{dim}: followers against target"))
    return out[0], out[1]


@dataclass
class Shortlist:
    """The page's view of one ranked brief."""

    rows: list[dict]
    budget: dict | None


def build_shortlist(result: pd.DataFrame, ds, as_of: pd.Timestamp, target: Shares,
                    budget: float | None) -> Shortlist:
    """Format the ranker's rows for the table: bars, sparklines, audience charts, budget."""
    ids = result[COLS.influencer_id].astype("str").tolist()
    series = weekly_engagement(ds, ids, as_of)
    audiences = audience_shares(ds, ids)
    top = float(result[COLS.score].max()) if len(result) else 1.0
    chosen_col = COLS.chosen if budget is not None and COLS.chosen in result else None
    rows = []
    for rec in result.to_dict("records"):
        iid = str(rec[COLS.influencer_id])
        er_series = series.get(iid, [])
        change = trend(er_series) if er_series else math.nan
        age, gender = audience_charts(audiences.get(iid, {}), target)
        details = " · ".join(str(rec[c]) for c in (COLS.platform, COLS.niche)
                             if c in rec and isinstance(rec[c], str))
        rows.append({
            "rank": int(rec[COLS.rank]), "influencer_id": iid, "details": details,
            "score": float(rec[COLS.score]), "score_text": _pct(float(rec[COLS.score])),
            "bar": svg.probability_bar(float(rec[COLS.score]), top),
            "reasons": reasons_of(rec.get(COLS.reasons)),
            "followers_text": f"{int(rec[COLS.followers]):,}",
            "er": float(rec.get(COLS.engagement, math.nan)), "trend": change,
            "er_text": _pct(float(rec.get(COLS.engagement, math.nan)), 2),
            "trend_text": "" if math.isnan(change) else
            f"{'▲' if change > 0.05 else '▼' if change < -0.05 else '●'} {change:+.0%}",
            "trend_class": "" if math.isnan(change) else
            "up" if change > 0.05 else "down" if change < -0.05 else "flat",
            "spark": svg.sparkline(er_series, label=f"weekly engagement rate of {iid}"),
            "age_svg": age, "gender_svg": gender,
            "price": float(rec[COLS.price]), "price_text": _money(float(rec[COLS.price])),
            "chosen": bool(rec[chosen_col]) if chosen_col else False,
        })
    summary = None
    if budget is not None:
        picked = [r for r in rows if r["chosen"]]
        cost = sum(r["price"] for r in picked)
        summary = {"budget": _money(budget), "count": len(picked), "cost": _money(cost),
                   "expected": f"{sum(r['score'] for r in picked):.2f}",
                   "note": "" if picked else "No shortlisted influencer fits this budget: "
                   "raise it, lower the maximum price or widen the shortlist."}
    return Shortlist(rows, summary)


def _num(x: float, digits: int) -> str:
    return "" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_START):
        return "'" + value
    return value


def shortlist_csv(shortlist: Shortlist, as_of_text: str, model_text: str) -> str:
    """The shortlist as CSV text: one row per influencer, reasons in their own columns."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["rank", "influencer_id", "conversion_probability", "reason_1", "reason_2",
              "reason_3", "followers", "engagement_rate", "engagement_trend",
              "price_per_post", "platform_niche"]
    if shortlist.budget is not None:
        header.append("in_budget")
    w.writerow(header + ["data_as_of", "model"])
    for r in shortlist.rows:
        reasons = (r["reasons"] + ["", "", ""])[:3]
        row = [r["rank"], r["influencer_id"], f"{r['score']:.4f}", *reasons,
               r["followers_text"].replace(",", ""), _num(r["er"], 5), _num(r["trend"], 3),
               _num(r["price"], 2), r["details"]]
        if shortlist.budget is not None:
            row.append("yes" if r["chosen"] else "no")
        w.writerow([_cell(v) for v in row + [as_of_text, model_text]])
    return buf.getvalue()
