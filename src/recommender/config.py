"""Paths, defaults and names shared by every stage; nothing here runs at import."""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path("data")
RAW_DIR = DATA_DIR / "raw"
PROCESSED_DIR = DATA_DIR / "processed"
MODELS_DIR = Path("models")

# Registry
REGISTERED_MODEL_NAME = "influencer-ranker"
CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
DEFAULT_MODEL_URI = f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION_ALIAS}"
DEFAULT_EXPERIMENT = "influencer-conversion"

# Generated world
DEFAULT_INFLUENCERS = 5_000
DEFAULT_BRANDS = 200
DEFAULT_MONTHS = 18
DEFAULT_SEED = 7

# An earlier collaboration's outcome counts in history features only this many days after it
# started, unless the data gives its settled_at (docs/model.md, "Outcome lag", says why 30).
DEFAULT_OUTCOME_LAG_DAYS = 30.0

# Ranker
MICRO_MIN_FOLLOWERS = 1_000
MICRO_MAX_FOLLOWERS = 100_000
DEFAULT_TOP_N = 10
MAX_TOP_N = 1_000
MAX_BRIEFS_PER_REQUEST = 100
# How far past the end of its data (the snapshot's as_of) a brief may rank: the snapshot is
# carried forward (time since the last post grows), its windowed rates are not slid, and past
# the shortest window (30 days) none of what they describe is recent: refresh instead.
AS_OF_HORIZON_DAYS = 30

# Serving
DEFAULT_HOST = "127.0.0.1"
DEFAULT_SERVE_PORT = 5001
DEFAULT_UI_PORT = 8080
