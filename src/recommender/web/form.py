"""The planner's brief form: raw query values -> one brief row, with an error per field."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from recommender import config
from recommender.contract import AGE_SEGMENTS, GENDER_SEGMENTS, SHARE_SUM_TOLERANCE

MAX_FIELD_CHARS = 200
_NUMBER_RE = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)([km]?)$")


def segment_key(dimension: str, segment: str) -> str:
    """The form field of one target segment, e.g. age_55plus, gender_female."""
    return f"{dimension}_{segment.replace('+', 'plus').replace('-', '_')}"


TARGET_FIELDS = {
    "age": {segment_key("age", s): s for s in AGE_SEGMENTS},
    "gender": {segment_key("gender", s): s for s in GENDER_SEGMENTS},
}
FIELDS = (["mode", "brand", "category", "market", "platform", "country", "min_followers",
           "max_followers", "niche", "max_price", "like", "top_n", "budget", "as_of"]
          + [k for keys in TARGET_FIELDS.values() for k in keys])
DEFAULTS = {"mode": "existing", "min_followers": f"{config.MICRO_MIN_FOLLOWERS:,}",
            "max_followers": f"{config.MICRO_MAX_FOLLOWERS:,}",
            "top_n": str(config.DEFAULT_TOP_N)}


@dataclass
class BriefForm:
    """What the page echoes back (values), what went wrong (errors by field) and the brief."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    brief: dict[str, object] = field(default_factory=dict)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    top_n: int = config.DEFAULT_TOP_N
    budget: float | None = None
    as_of: str | None = None  # checked by the ranker (format, and its horizon)
    submitted: bool = False

    @property
    def ok(self) -> bool:
        """True when the brief can be ranked."""
        return self.submitted and not self.errors


def parse_number(text: str) -> float:
    """'1,000', '1 000', '$250', '50k', '1.5m' -> a float; ValueError otherwise."""
    t = re.sub(r"[\s,_$]", "", text).lower()
    m = _NUMBER_RE.match(t)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2)]


def _number(form: BriefForm, name: str, what: str, *, integer: bool = False,
            low: float = 0.0, high: float | None = None) -> float | None:
    text = form.values.get(name, "")
    if not text:
        return None
    negative = text.startswith("-")  # a number, below the bound: say that, not "not a number"
    try:
        value = -parse_number(text[1:]) if negative else parse_number(text)
    except ValueError:
        form.errors[name] = f"{what}: '{text}' is not a number (e.g. 5000, 5,000 or 5k)"
        return None
    if integer and value != int(value):
        form.errors[name] = f"{what}: '{text}' must be a whole number"
        return None
    if value < low or (high is not None and value > high):
        bound = f"between {low:,g} and {high:,g}" if high is not None else f"at least {low:,g}"
        form.errors[name] = f"{what}: '{text}' must be {bound}"
        return None
    return int(value) if integer else value


def _targets(form: BriefForm) -> dict[str, dict[str, float]]:
    """Target audience shares typed in percent; a dimension left blank is not targeted."""
    out: dict[str, dict[str, float]] = {}
    for dim, keys in TARGET_FIELDS.items():
        shares = {}
        for key, segment in keys.items():
            v = _number(form, key, f"{dim} {segment} (%)", high=100.0)
            if v is not None:
                shares[segment] = v / 100.0
        total = sum(shares.values())
        if shares and total > 1.0 + SHARE_SUM_TOLERANCE:
            form.errors[f"target_{dim}"] = (f"{dim} shares add up to {total:.0%}: at most 100%")
        elif shares:
            out[dim] = shares
    return out


def parse_brief(args: Mapping[str, str], brands: Mapping[str, str | tuple[str, ...]]
                ) -> BriefForm:
    """Read the brief from request arguments into the ranker's brief fields.

    `brands` maps a lower-cased brand id, name or label to the brand id (a name several
    brands share, to the tuple of their ids). Only text is turned
    into typed values here; the brief's rules are checked by the ranker (recommender.briefs).
    """
    raw = {k: str(args.get(k, "")).strip()[:MAX_FIELD_CHARS] for k in FIELDS}
    submitted = any(raw[k] for k in ("brand", "category")) or "mode" in args
    form = BriefForm(values={k: raw[k] or ("" if submitted and k != "mode" else
                                           DEFAULTS.get(k, "")) for k in FIELDS},
                     submitted=submitted)
    if not submitted:
        return form
    unknown = sorted(str(k) for k in args if k not in FIELDS)
    if unknown:  # a misspelt field (a hand-edited link) would silently take its default
        form.errors["brief"] = (f"unknown field(s) {', '.join(unknown)[:MAX_FIELD_CHARS]}; the "
                                "form's fields are " + ", ".join(FIELDS[:12]))
    v = form.values
    brief: dict[str, object] = {}
    if v["mode"] == "new":
        if not v["category"]:
            form.errors["category"] = "category: pick the product category of the new brand"
        else:
            brief["category"] = v["category"]
        if v["market"]:
            brief["brand_country"] = v["market"]
        form.targets = _targets(form)
        for dim, shares in form.targets.items():
            brief[f"target_{dim}"] = shares
    else:
        v["mode"] = "existing"
        key = v["brand"].lower()
        label_id = re.search(r"\(([^()]+)\)\s*$", v["brand"])  # "Name (id)" from the list
        found = brands.get(key) or (brands.get(label_id.group(1).lower()) if label_id else None)
        if not v["brand"]:
            form.errors["brand"] = "brand: pick a brand from the list, or describe a new one"
        elif found is None:
            form.errors["brand"] = f"brand: no brand '{v['brand']}' in the data"
        elif isinstance(found, tuple):
            form.errors["brand"] = (f"brand: '{v['brand']}' names {len(found)} brands: "
                                    f"{', '.join(found[:10])}; pick one from the list or "
                                    "type its id")
        else:
            brief["brand_id"] = found
    _filters(form, brief)
    form.top_n = int(_number(form, "top_n", "top N", integer=True, low=1,
                             high=config.MAX_TOP_N) or config.DEFAULT_TOP_N)
    form.budget = _number(form, "budget", "budget (USD)")
    if form.budget == 0:
        form.errors["budget"] = "budget (USD): must be more than 0 (or leave it blank)"
    form.as_of = v["as_of"] or None
    form.brief = brief
    return form


def _filters(form: BriefForm, brief: dict[str, object]) -> None:
    """Filters as typed values; their rules (vocabularies, codes, ranges) are the ranker's."""
    v = form.values
    for name in ("platform", "country", "niche"):
        if v[name]:
            brief[name] = v[name]
    for name, what in (("min_followers", "minimum followers"),
                       ("max_followers", "maximum followers")):
        value = _number(form, name, what, integer=True)
        if value is not None:
            brief[name] = value
    seeds = [t for t in re.split(r"[\s,]+", v["like"]) if t]
    if seeds:
        brief["like"] = seeds
    price = _number(form, "max_price", "maximum price (USD)")
    if price is not None:
        brief["max_price"] = price
