"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

SMALL_WORLD = {"n_influencers": 2000, "n_brands": 50, "seed": 11}


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated world of 2,000 influencers and 50 brands, written once per session."""
    from recommender.world import generate_world

    out = tmp_path_factory.mktemp("small_world")
    generate_world(out, **SMALL_WORLD)
    return out


@pytest.fixture(scope="session")
def small_world(small_world_dir: Path) -> dict[str, pd.DataFrame]:
    """The small world's tables as written (Parquet read back), keyed by table name."""
    return {p.stem: pd.read_parquet(p) for p in sorted(small_world_dir.glob("*.parquet"))}
