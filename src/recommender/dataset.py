"""The validated tables of one data folder, and the broken rules that stop a folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

# The order tables are validated in: parents before the tables that reference them.
VALIDATION_ORDER = (
    "influencers", "brands", "audience", "posts", "brand_audience", "collaborations",
)


def empty_rejects() -> pd.DataFrame:
    """The rejects table with no row: one row per broken rule of a quarantined record."""
    return pd.DataFrame(
        {c: pd.Series(dtype="object") for c in
         ("table", "file", "row", "id", "column", "rule", "value", "record")}
    )



@dataclass(frozen=True)
class Problem:
    """One broken rule: which file, column and rule, how many rows, which ids."""

    table: str
    file: str
    column: str
    rule: str
    count: int
    first_ids: tuple[str, ...] = ()
    fatal: bool = False  # the table cannot be used at all (missing column, unreadable, empty)

    @classmethod
    def fatal_at(cls, table: str, file: str, rule: str, column: str = "") -> Problem:
        """A problem that makes the whole table (or file) unusable."""
        return cls(table, file, column, rule, 0, (), fatal=True)

    def message(self) -> str:
        where = f"{self.file}: column '{self.column}'" if self.column else self.file
        if self.fatal:
            return f"{where}: {self.rule}"
        ids = ", ".join(self.first_ids)
        rows = "row breaks" if self.count == 1 else "rows break"
        return f"{where}: {self.count} {rows} the rule '{self.rule}' (first: {ids})"


class ValidationError(ValueError):
    """Data that breaks the contract; `problems` lists every broken rule."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(p.message() for p in problems))


@dataclass
class Dataset:
    """The validated, typed tables of one data folder."""

    influencers: pd.DataFrame
    posts: pd.DataFrame
    brands: pd.DataFrame
    audience: pd.DataFrame
    brand_audience: pd.DataFrame
    collaborations: pd.DataFrame
    present: dict[str, frozenset[str]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    source: str | Path | None = None  # the data folder, or its fsspec URL
    # every dated influencer row (contract version 2, `valid_from`); None: undated snapshot
    influencer_history: pd.DataFrame | None = None

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    def has_table(self, name: str) -> bool:
        """True when the table was present in the source (possibly with zero rows)."""
        return name in self.present

    def has_column(self, table: str, column: str) -> bool:
        """True when the column was present in the source table."""
        return column in self.present.get(table, frozenset())

    @property
    def latest_timestamp(self) -> pd.Timestamp:
        """The latest instant in the data: the default `as_of`."""
        stamps = [self.posts["posted_at"].max(), self.collaborations["started_at"].max()]
        stamps = [s for s in stamps if pd.notna(s)]
        if not stamps:
            raise ValueError("the data holds no timestamp: posts and collaborations are empty")
        return max(stamps)

    @property
    def earliest_timestamp(self) -> pd.Timestamp | None:
        stamps = [self.posts["posted_at"].min(), self.collaborations["started_at"].min()]
        stamps = [s for s in stamps if pd.notna(s)]
        return min(stamps) if stamps else None

    def row_counts(self) -> dict[str, int]:
        return {name: len(self.table(name)) for name in VALIDATION_ORDER}
