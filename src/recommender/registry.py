"""The champion gate and model registration with MLflow aliases (never stages)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from recommender.config import CHALLENGER_ALIAS, CHAMPION_ALIAS
from recommender.errors import UserError

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE: dict[str, float] = {"auc": 0.005, "ndcg_at_10": 0.01}
# A version is tagged registration=pending (by process host:pid) until its alias is set.
REGISTRATION_TAG = "registration"
PROCESS_TAG = "registering_process"
# Gated metrics where smaller is better; every other one is larger-is-better.
LOWER_IS_BETTER = frozenset({"log_loss", "brier", "ece"})


@dataclass(frozen=True)
class Decision:
    """Which alias a new model version gets, and why (stored on the version as tags)."""

    alias: str
    reason: str


def decide_alias(
    new_metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
    tolerance: Mapping[str, float] | None = None,
    *,
    force_champion: bool = False,
) -> Decision:
    """Champion if there is no champion, or if the new model is not worse than the champion
    on every gated metric by more than its tolerance; otherwise challenger.

    Both metric sets must be measured on the SAME (the new) test window: the caller scores
    the current champion on it. A NaN new value fails its gate; a NaN champion value cannot
    be compared and is passed over.
    """
    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    if force_champion:
        return Decision(CHAMPION_ALIAS, "made champion by force_champion")
    missing = [m for m in tolerance if m not in new_metrics]
    if missing:
        raise UserError(f"champion gate: the new model's metrics lack {missing}")
    if champion_metrics is None:
        return Decision(CHAMPION_ALIAS, "no champion yet")
    missing = [m for m in tolerance if m not in champion_metrics]
    if missing:
        raise UserError(
            f"champion gate: the champion's metrics lack {missing}; "
            "score the champion on the new test window first"
        )
    worse, compared = [], []
    for metric, tol in tolerance.items():
        new, old = float(new_metrics[metric]), float(champion_metrics[metric])
        if math.isnan(new):
            worse.append(f"{metric} is not measurable on the new test window")
            continue
        if math.isnan(old):
            continue
        sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
        text = f"{metric} {new:.4f} vs champion {old:.4f} (tolerance {tol})"
        (worse if sign * (new - old) < -tol else compared).append(text)
    if worse:
        return Decision(CHALLENGER_ALIAS, "worse than the champion: " + "; ".join(worse))
    return Decision(
        CHAMPION_ALIAS, "not worse than the champion: " + ("; ".join(compared) or "no comparison")
    )


def _client(client: MlflowClient | None) -> MlflowClient:
    if client is not None:
        return client
    from mlflow import MlflowClient

    return MlflowClient()


def champion_version(
    client: MlflowClient | None, name: str, alias: str = CHAMPION_ALIAS
) -> ModelVersion | None:
    """The version holding `alias` (default champion), or None if the model or alias is absent."""
    from mlflow.exceptions import MlflowException

    try:
        return _client(client).get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        # an absent model says RESOURCE_DOES_NOT_EXIST; an absent alias on an existing model
        # says INVALID_PARAMETER_VALUE "... alias ... not found" (SQL store, MLflow 3)
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND") or (
            exc.error_code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc)
        ):
            return None
        raise


class _Unchecked:
    """The default of `expected`: move the alias whoever holds it now."""


UNCHECKED: Any = _Unchecked()


def register_model(
    model_uri: str,
    name: str,
    decision: Decision,
    client: MlflowClient | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    expected: str | None | _Unchecked = UNCHECKED,
) -> ModelVersion:
    """Register `model_uri` (`models:/<model_id>` from log_model, or `runs:/<run_id>/<path>`)
    as a new version of `name` and point `decision.alias` at it.

    `expected` (a version number, or None for "no holder"): compare-and-swap. The alias moves
    only if it still points where it pointed when the caller decided (the gate compared the
    new model with THAT version); otherwise the new version becomes challenger and says why.
    Registration goes through `mlflow.register_model`, i.e. the current registry URI; the
    `client` (default: a new MlflowClient) must talk to the same store. The decision is kept
    on the version as tags `gate_alias` and `gate_reason`.
    """
    import mlflow

    client = _client(client)
    remove_unfinished_versions(name, client)
    all_tags = {**(tags or {}), REGISTRATION_TAG: "pending", PROCESS_TAG: _this_process()}
    version = mlflow.register_model(model_uri, name, tags={k: str(v) for k, v in all_tags.items()})
    if not isinstance(expected, _Unchecked):
        decision = _still_expected(client, name, decision, expected)
    client.set_model_version_tag(name, version.version, "gate_alias", decision.alias)
    client.set_model_version_tag(name, version.version, "gate_reason", decision.reason)
    client.set_registered_model_alias(name, decision.alias, version.version)
    client.set_model_version_tag(name, version.version, REGISTRATION_TAG, "complete")
    logger.info(
        "registered %s version %s as %s: %s", name, version.version, decision.alias, decision.reason
    )
    return client.get_model_version(name, version.version)


def _still_expected(client: MlflowClient, name: str, decision: Decision,
                    expected: str | None) -> Decision:
    """`decision`, or challenger if its alias no longer points at `expected`.

    MLflow has no conditional alias update: this re-reads the alias right before moving it,
    which leaves a window of one registry round trip (milliseconds) instead of a whole run."""
    if decision.alias == CHALLENGER_ALIAS:
        return decision
    now = champion_version(client, name, decision.alias)
    holder = None if now is None else str(now.version)
    if holder == (None if expected is None else str(expected)):
        return decision
    before = "no version" if expected is None else f"version {expected}"
    after = "no version" if holder is None else f"version {holder}"
    logger.warning("%s: alias %s moved from %s to %s during this run; not moving it", name,
                   decision.alias, before, after)
    return Decision(CHALLENGER_ALIAS, f"not made {decision.alias}: the alias moved from {before} "
                    f"to {after} while this run was deciding (the gate compared against "
                    f"{before}); re-run to compare with {after}")


def _this_process() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(process: str) -> bool:
    """True when `process` ("host:pid") ran on this host and runs no more."""
    import os
    import socket

    host, _, pid = process.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def remove_unfinished_versions(name: str, client: MlflowClient | None = None) -> list[str]:
    """Finish the registrations of `name` that a killed `train` left half done.

    A version is tagged `registration=pending` until its alias is set. A pending version of a
    process that no longer runs (on this host) is deleted if it holds no alias (nothing could
    use it), or marked complete if it does (only the last tag was missing). Returns the
    deleted versions.
    """
    client = _client(client)
    deleted = []
    for v in client.search_model_versions(f"name = '{name}'"):
        tags = v.tags or {}
        if tags.get(REGISTRATION_TAG) != "pending" or not _dead_here(tags.get(PROCESS_TAG, "")):
            continue
        if getattr(v, "aliases", None):
            client.set_model_version_tag(name, v.version, REGISTRATION_TAG, "complete")
            continue
        client.delete_model_version(name, v.version)
        logger.warning("deleted %s version %s: its registration was interrupted", name, v.version)
        deleted.append(v.version)
    return deleted


def resolve_version(model_uri: str) -> tuple[str, str]:
    """(name, version) a `models:/NAME@ALIAS`, `models:/NAME/N` or `models:/NAME[/latest]`
    URI points at NOW: resolve once, then load that version, so that an alias moved
    meanwhile cannot make the name and the loaded model disagree."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from recommender.tracking import require_store

    where = f" (tracking URI {require_store(model_uri)})"
    rest = model_uri[len("models:/"):].strip("/")
    client = MlflowClient()
    try:
        if "@" in rest:
            name, alias = rest.split("@", 1)
            return name, str(client.get_model_version_by_alias(name, alias).version)
        name, _, version = rest.partition("/")
        if version in ("", "latest"):
            versions = client.search_model_versions(f"name = '{name}'")
            if not versions:
                raise UserError(f"model {model_uri}{where}: no registered version")
            return name, str(max(int(v.version) for v in versions))
        return name, str(client.get_model_version(name, version).version)
    except MlflowException as exc:
        raise UserError(f"model {model_uri}{where}: not found in the registry "
                        f"({exc.message})") from None
