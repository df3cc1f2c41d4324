"""Shared by the page tests: a tiny world, a tiny model and its real Ranker; an HTML reader."""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

PAGE_WORLD = {"n_influencers": 300, "n_brands": 20, "months": 12, "seed": 5}
MODEL_TEXT = "test-ranker version 1 (champion)"


@dataclass(frozen=True)
class PageWorld:
    """A generated world, a ranker trained on it, and the folder both live in."""

    data_dir: Path
    ranker: object
    brands: object  # the world's brands table


@functools.lru_cache(maxsize=1)
def page_world() -> PageWorld:
    """Built once per test session (about 3 s): generate, fit a small model, snapshot."""
    from recommender.ranker import Ranker
    from recommender.snapshot import build_snapshot
    from recommender.train import fit, prepare
    from recommender.world import generate_world

    root = Path(tempfile.mkdtemp(prefix="page_world_"))
    generate_world(root / "data", **PAGE_WORLD)
    data = prepare(root / "data")
    model = fit(data, params={"num_leaves": 7, "min_data_in_leaf": 10}, seed=0,
                num_boost_round=40, early_stopping_rounds=10)
    snap = build_snapshot(with_handles(data.ds), model, out_dir=root / "snapshot")
    return PageWorld(root / "data", Ranker(model, snap), data.ds.brands)


def with_handles(ds):
    """`ds` whose even-numbered influencers carry a handle and a profile URL (contract v2's
    optional names for planners); the others have none."""
    import dataclasses

    import numpy as np

    inf = ds.influencers
    named = np.arange(len(inf)) % 2 == 0
    handle = ("Creator." + inf["influencer_id"]).where(named, None)
    url = ("https://example.com/" + handle).where(named, None)
    return dataclasses.replace(ds, influencers=inf.assign(handle=handle, profile_url=url))


@dataclass
class Page:
    """What the tests read from a rendered page."""

    by_id: dict[str, str] = field(default_factory=dict)  # element id -> its text
    attrs_by_id: dict[str, dict[str, str]] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)  # one per shortlist row: id, cells, svgs
    error_after: dict[str, str] = field(default_factory=dict)  # error id -> preceding input id


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.open_ids: list[tuple[str, str, int]] = []  # (id, tag, depth)
        self.depth = 0
        self.texts: dict[str, list[str]] = {}
        self.row: dict | None = None
        self.cell: list[str] | None = None
        self.last_input: str | None = None

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs, void=True)

    def handle_starttag(self, tag, attrs, void=False):
        a = {k: v or "" for k, v in attrs}
        void = void or tag in ("input", "br", "meta", "link", "img")
        if "id" in a:
            self.page.attrs_by_id[a["id"]] = a | {"tag": tag}
            if tag in ("input", "select"):
                self.last_input = a["id"]
            if a.get("class") == "field-error" and self.last_input:
                self.page.error_after[a["id"]] = self.last_input
            if not void:
                self.open_ids.append((a["id"], tag, self.depth))
                self.texts[a["id"]] = []
        if tag == "tr" and "data-influencer" in a:
            self.row = {"id": a["data-influencer"], "cells": [], "svg": []}
        if self.row is not None and tag == "td":
            self.cell = []
        if self.row is not None and tag == "svg":
            self.row["svg"].append(a.get("class", ""))
        if self.row is not None and tag == "li" and self.cell is not None:
            self.cell.append("\n")
        if not void:
            self.depth += 1

    def handle_endtag(self, tag):
        self.depth -= 1
        while self.open_ids and self.open_ids[-1][2] >= self.depth:
            ident, _, _ = self.open_ids.pop()
            self.page.by_id[ident] = " ".join("".join(self.texts[ident]).split())
        if tag == "td" and self.row is not None and self.cell is not None:
            self.row["cells"].append("".join(self.cell).strip())
            self.cell = None
        if tag == "tr" and self.row is not None:
            self.page.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        for ident, _, _ in self.open_ids:
            self.texts[ident].append(data)
        if self.cell is not None:
            self.cell.append(data)


def read_page(html: str) -> Page:
    """Parse a rendered page into ids, shortlist rows and error placements."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.page
