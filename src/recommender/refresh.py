"""Refreshing the served ranker: the same booster with a snapshot of new data, moved behind
checks.

Before the alias moves, the booster is re-evaluated on the new data's test window (it must
still show signal and beat the heuristic baseline fitted on that data's train window), and the
new snapshot's first stage must keep the exhaustive ranking's top 10 for the data's brands.
The re-evaluation is a sanity check of the data and the booster together (a broken export, a
drifted catalogue), not an unbiased estimate: the booster may have been trained on part of
that window. The alias move is compare-and-swap on the version refreshed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recommender import config
from recommender.errors import UserError
from recommender.registry import Decision

logger = logging.getLogger(__name__)

# Share of the exhaustive top 10 the first stage must keep (the benchmark goal, docs/ranker.md).
FIRST_STAGE_MIN_RECALL = 0.95
RECALL_BRANDS = 20
RECALL_TOP_N = 10


@dataclass
class RefreshResult:
    """The version a refresh registered, its alias decision and what it measured."""

    version: str
    decision: Decision
    metrics: dict[str, float]


def first_stage_recall(ranker, brands: int = RECALL_BRANDS, top_n: int = RECALL_TOP_N
                       ) -> float:
    """Mean over up to `brands` known brands (in id order) of the share of the exhaustive
    top `top_n` that the ranker's first stage keeps."""
    import pandas as pd

    ids = sorted(ranker.brand_index.astype(str))[:brands]
    recalls = []
    for brand in ids:
        brief = pd.DataFrame([{"brand_id": brand}])
        fast = set(ranker.recommend(brief, top_n=top_n)["influencer_id"])
        best = set(ranker.recommend(brief, top_n=top_n, exhaustive=True)["influencer_id"])
        if best:
            recalls.append(len(fast & best) / len(best))
    return float(np.mean(recalls)) if recalls else float("nan")


def _quality_problems(model, data_dir: Path, allow_unevaluated: bool
                      ) -> tuple[list[str], dict[str, float]]:
    """(why the booster fails on the new data, its metrics there)."""
    from recommender.evaluation import evaluate_window, has_signal
    from recommender.features import LABEL
    from recommender.gate import below_floor
    from recommender.train import prepare

    try:
        data = prepare(data_dir)
    except UserError as exc:
        if allow_unevaluated:
            logger.warning("refresh without re-evaluation: %s", exc)
            return [], {}
        raise UserError(f"refresh cannot re-evaluate the booster on {data_dir}: {exc} "
                        "(--allow-unevaluated refreshes without it)") from None
    missing = [f for f in model.features_ if f not in data.test.columns]
    if missing:
        return [f"its features {missing[:3]} are not computed any more"], {}
    m = evaluate_window(model, data.train, data.test, data.truth).metrics
    problems = below_floor(m)
    ok, text = has_signal(m["auc"], data.test[LABEL].to_numpy())
    if not ok:
        problems.insert(0, f"no evidence of signal on the new data: {text}")
    return problems, {f"refresh_{k}": v for k, v in m.items() if k in (
        "auc", "within_brand_auc", "ndcg_at_10", "log_loss", "ece",
        "baseline_heuristic_auc", "test_rows") and np.isfinite(v)}


def run_refresh(data_dir: Path, model_name: str = config.REGISTERED_MODEL_NAME,
                alias: str = config.CHAMPION_ALIAS, experiment: str = config.DEFAULT_EXPERIMENT,
                allow_unevaluated: bool = False) -> RefreshResult:
    """`recommender refresh`: log the booster of `model_name@alias` with a snapshot of
    `data_dir`, re-evaluate and check it, and move `alias` to it only if every check holds
    and the alias still points at the version refreshed (else the version is challenger)."""
    import mlflow

    from recommender.provenance import provenance
    from recommender.pyfunc import load_conversion_model, load_preference, load_ranker, log_ranker
    from recommender.registry import champion_version, register_model
    from recommender.tracking import require_store, start_run
    from recommender.train import data_digest
    from recommender.validate import load_dataset

    uri = require_store(f"models:/{model_name}@{alias}")  # nothing to refresh in a new store
    client = mlflow.MlflowClient()
    current = champion_version(client, model_name, alias)
    if current is None:
        raise UserError(f"model {model_name!r} has no version with alias {alias!r} to refresh "
                        f"(tracking URI {uri}); run `recommender train` first")
    model = load_conversion_model(f"models:/{model_name}/{current.version}")
    preference = load_preference(f"models:/{model_name}/{current.version}")
    ds = load_dataset(data_dir)
    problems, measured = _quality_problems(model, Path(data_dir), allow_unevaluated)
    made_from = provenance(data_digest(ds), model.features_)
    with start_run(experiment, f"refresh-v{current.version}") as run:
        mlflow.set_tags({"kind": "refresh", "refresh_of_version": current.version, **made_from})
        mlflow.log_params({"data_dir": str(data_dir), "refresh_of_version": current.version})
        if current.run_id:  # same booster: its held-out quality from its training run
            mlflow.log_metrics(client.get_run(current.run_id).data.metrics)
        info = log_ranker(model, ds, preference=preference)
        recall = first_stage_recall(load_ranker(info.model_uri))
        measured["refresh_first_stage_recall_at_10"] = recall
        mlflow.log_metrics({k: v for k, v in measured.items() if np.isfinite(v)})
        if not recall >= FIRST_STAGE_MIN_RECALL:
            problems.append(f"the first stage keeps {recall:.2f} of the exhaustive top "
                            f"{RECALL_TOP_N} (at least {FIRST_STAGE_MIN_RECALL} needed)")
        as_of = info.metadata["snapshot_as_of"] if info.metadata else "?"
        if problems:
            decision = Decision(config.CHALLENGER_ALIAS, f"refresh of version "
                                f"{current.version} not made {alias}: " + "; ".join(problems))
        else:
            decision = Decision(alias, f"refresh of version {current.version}: same booster, "
                                f"snapshot as of {as_of}; re-evaluated ({_summary(measured)})")
        version = register_model(info.model_uri, model_name, decision, client,
                                 tags={"run_id": run.info.run_id,
                                       "refresh_of_version": current.version, **made_from},
                                 expected=str(current.version))
    final = Decision(version.tags["gate_alias"], version.tags["gate_reason"])
    return RefreshResult(str(version.version), final, measured)


def _summary(measured: dict[str, float]) -> str:
    shown = {"refresh_auc": "AUC", "refresh_first_stage_recall_at_10": "first-stage recall"}
    return ", ".join(f"{label} {measured[k]:.3f}" for k, label in shown.items() if k in measured)
