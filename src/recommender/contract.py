"""The data contract (version 1) as code: tables, columns, types and rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["id", "str", "int", "float", "bool", "timestamp"]

PLATFORMS = ("instagram", "tiktok", "youtube")
NICHES = (
    "beauty", "fashion", "fitness", "food", "travel", "family",
    "pets", "gaming", "tech", "home", "finance", "other",
)
DIMENSIONS = ("age", "gender", "country")
AGE_SEGMENTS = ("13-17", "18-24", "25-34", "35-44", "45-54", "55+")
GENDER_SEGMENTS = ("female", "male", "other")
SHARE_SUM_TOLERANCE = 0.01


@dataclass(frozen=True)
class Column:
    """One column of a contract table."""

    name: str
    type: ColumnType
    required: bool = True
    unique: bool = False
    min_value: float | None = None
    max_value: float | None = None
    allowed: tuple[str, ...] | None = None  # closed vocabulary (case-insensitive)
    references: str | None = None  # "table.column" it must exist in
    default: object = None  # value used when an optional column is absent
    cased: bool = False  # text shown to people (a brand's name): trimmed, case kept


@dataclass(frozen=True)
class Table:
    """One table of the contract."""

    name: str
    required: bool
    columns: tuple[Column, ...]
    long_shares_key: str | None = None  # audience tables: shares per (key, dimension) <= 1
    description: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _audience_columns(key: str, ref: str) -> tuple[Column, ...]:
    return (
        Column(key, "id", references=ref),
        Column("dimension", "str", allowed=DIMENSIONS),
        Column("segment", "str"),
        Column("share", "float", min_value=0.0, max_value=1.0),
    )


INFLUENCERS = Table(
    "influencers", True,
    (
        Column("influencer_id", "id", unique=True),
        Column("platform", "str", allowed=PLATFORMS),
        Column("niche", "str"),
        Column("followers", "int", min_value=0),
        Column("country", "str", required=False),
        Column("real_follower_share", "float", required=False, min_value=0.0, max_value=1.0),
        Column("price_per_post", "float", required=False, min_value=0.0),
        # contract version 2: the row holds from this instant until the influencer's next row
        Column("valid_from", "timestamp", required=False),
        # version 2, for planners (shown, never features)
        Column("handle", "str", required=False, cased=True),
        Column("profile_url", "str", required=False, cased=True),
    ),
    description="one row per influencer account (per valid_from where dated)",
)
AUDIENCE = Table(
    "audience", False, _audience_columns("influencer_id", "influencers.influencer_id"),
    long_shares_key="influencer_id", description="who follows each influencer, as shares",
)
POSTS = Table(
    "posts", True,
    (
        Column("post_id", "id", unique=True),
        Column("influencer_id", "id", references="influencers.influencer_id"),
        Column("posted_at", "timestamp"),
        Column("likes", "int", min_value=0),
        Column("comments", "int", min_value=0),
        Column("views", "int", required=False, min_value=0),
        Column("followers_at_post", "int", required=False, min_value=0),
        Column("sponsored", "bool", required=False, default=False),
        Column("brand_id", "id", required=False),
    ),
    description="the engagement history",
)
BRANDS = Table(
    "brands", True,
    (
        Column("brand_id", "id", unique=True),
        Column("name", "str", required=False, cased=True),
        Column("category", "str"),
        Column("country", "str", required=False),
    ),
    description="one row per brand",
)
BRAND_AUDIENCE = Table(
    "brand_audience", False, _audience_columns("brand_id", "brands.brand_id"),
    long_shares_key="brand_id", description="the audience a brand wants to reach",
)
COLLABORATIONS = Table(
    "collaborations", False,
    (
        Column("collaboration_id", "id", unique=True),
        Column("brand_id", "id", references="brands.brand_id"),
        Column("influencer_id", "id", references="influencers.influencer_id"),
        Column("started_at", "timestamp"),
        Column("fee", "float", required=False, min_value=0.0),
        Column("clicks", "int", required=False, min_value=0),
        Column("conversions", "int", min_value=0),
        # contract version 2: when the conversions were final (absent: started_at + lag)
        Column("settled_at", "timestamp", required=False),
    ),
    description="past sponsored collaborations and their outcomes (the labels)",
)
PAIRS = Table(
    "pairs", False,
    (
        Column("brand_id", "id", references="brands.brand_id"),
        Column("influencer_id", "id", references="influencers.influencer_id"),
        Column("as_of", "timestamp", required=False),
    ),
    description="brand-influencer pairs to featurise or score",
)

TABLES: dict[str, Table] = {
    t.name: t for t in (INFLUENCERS, AUDIENCE, POSTS, BRANDS, BRAND_AUDIENCE, COLLABORATIONS)
}
