"""What a model was made from: code version, package version, data digest and feature list,
recorded on every MLflow run and model version; and the registry listing of `recommender
models`."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from mlflow import MlflowClient

logger = logging.getLogger(__name__)

GIT_COMMIT_TAG = "git_commit"
GIT_DIRTY_TAG = "git_dirty"
VERSION_TAG = "package_version"
DIGEST_TAG = "data_digest"
FEATURES_TAG = "features"
# The metrics `recommender models` shows beside each version (those of its training run).
KEY_METRICS = ("auc", "within_brand_auc", "ndcg_at_10", "log_loss", "ece")
UNKNOWN = "unknown"


def _git(*args: str) -> str | None:
    """Output of git in the package's source folder, or None outside a checkout."""
    try:
        done = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version() -> dict[str, str]:
    """git commit of the code (and whether the checkout has uncommitted changes: `true`,
    `false`, or `unknown` outside a git checkout, e.g. an installed wheel) and the package
    version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("recommender")
    except PackageNotFoundError:
        from recommender import __version__ as package
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {GIT_COMMIT_TAG: commit or UNKNOWN,
            GIT_DIRTY_TAG: UNKNOWN if status is None else str(bool(status)).lower(),
            VERSION_TAG: package}


def provenance(data_digest: str, features: Sequence[str]) -> dict[str, str]:
    """The tags every run and model version carries: code_version(), the data digest and
    the model's feature list (comma-separated, in the booster's order)."""
    return {**code_version(), DIGEST_TAG: data_digest, FEATURES_TAG: ",".join(features)}


def list_versions(name: str, client: MlflowClient | None = None) -> pd.DataFrame:
    """One row per version of registered model `name`, newest first: version, aliases,
    created (UTC), the KEY_METRICS of its run, git commit (short, `+dirty` when the checkout
    had changes), package version, data digest, number of features and the gate's reason."""
    from mlflow import MlflowClient

    client = client or MlflowClient()
    aliases: dict[str, list[str]] = {}
    for alias, v in client.get_registered_model(name).aliases.items():
        aliases.setdefault(str(v), []).append(alias)
    rows = []
    for v in client.search_model_versions(f"name = '{name}'"):
        tags = v.tags or {}
        run_metrics = client.get_run(v.run_id).data.metrics if v.run_id else {}
        commit = tags.get(GIT_COMMIT_TAG, UNKNOWN)
        rows.append({
            "version": int(v.version),
            "aliases": ",".join(sorted(aliases.get(str(v.version), []))),
            "created": pd.Timestamp(v.creation_timestamp, unit="ms", tz="UTC"),
            **{m: run_metrics.get(m, float("nan")) for m in KEY_METRICS},
            "git_commit": commit[:10] + ("+dirty" if tags.get(GIT_DIRTY_TAG) == "true" else ""),
            "package_version": tags.get(VERSION_TAG, UNKNOWN),
            "data_digest": tags.get(DIGEST_TAG, UNKNOWN),
            "features": len(tags[FEATURES_TAG].split(",")) if tags.get(FEATURES_TAG) else 0,
            "gate_reason": tags.get("gate_reason", ""),
        })
    columns = ["version", "aliases", "created", *KEY_METRICS, "git_commit", "package_version",
               "data_digest", "features", "gate_reason"]
    return pd.DataFrame(rows, columns=columns).sort_values("version", ascending=False,
                                                           ignore_index=True)
