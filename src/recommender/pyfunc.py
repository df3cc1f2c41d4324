"""The MLflow model around the ranker: log, load, and answer requests (bad ones with a 4xx).

The logged model is self-contained: artifacts `conversion_model/` (booster as LightGBM text +
model.json) and `snapshot/` (Parquet + JSON), the `recommender` package as code, and a
models-from-code entry (`pyfunc_entry.py`): nothing is pickled. Everything is loaded in
`load_context`.
"""

from __future__ import annotations

import logging
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE
from mlflow.types.schema import ParamSchema, ParamSpec

from recommender import config
from recommender.errors import UserError
from recommender.model import ConversionModel
from recommender.tracking import quiet_mlflow_hints, require_store

logger = logging.getLogger(__name__)

MODEL_ARTIFACT = "conversion_model"
SNAPSHOT_ARTIFACT = "snapshot"
PREFERENCE_ARTIFACT = "preference"  # optional: the planners' preference model, blended
ENTRY = Path(__file__).with_name("pyfunc_entry.py")
PINNED = ("mlflow", "lightgbm", "pandas", "numpy", "pyarrow", "scikit-learn", "scipy")
# Input columns are not declared: a declared schema would coerce 1.5, "7" or true into an
# integer column (and drop unknown fields silently); the ranker checks each value itself.
SIGNATURE = ModelSignature(inputs=None, params=ParamSchema([
    ParamSpec("top_n", "long", config.DEFAULT_TOP_N),
    ParamSpec("as_of", "string", None),
    ParamSpec("budget", "double", None),
]))


PARAM_NAMES = frozenset(p.name for p in SIGNATURE.params.params)


def refuse_unknown_params() -> None:
    """Make MLflow refuse, with a 400, request params the ranker does not know (`"topn": 3`).

    MLflow drops params missing from the signature with only a log line, before `predict`
    sees them, so a misspelt parameter would silently answer with its default. Its check is
    wrapped in this process, for models whose params are exactly the ranker's (others keep
    MLflow's behaviour). Idempotent."""
    import mlflow.pyfunc as pyfunc_module

    original = pyfunc_module._enforce_params_schema
    if getattr(original, "_refuses_unknown", False):
        return

    def enforce(params, schema):
        known = {p.name for p in schema.params} if isinstance(schema, ParamSchema) else None
        if known == PARAM_NAMES and isinstance(params, dict):
            unknown = sorted(str(k) for k in params if str(k) not in known)
            if unknown:
                raise MlflowException(
                    f"unknown parameter(s) {', '.join(unknown)}; known parameters: "
                    f"{', '.join(sorted(known))}", error_code=INVALID_PARAMETER_VALUE)
        return original(params, schema)

    enforce._refuses_unknown = True  # type: ignore[attr-defined]
    pyfunc_module._enforce_params_schema = enforce


def _briefs(model_input: Any) -> Any:
    """The briefs as MLflow parsed the request, with its 0-d arrays as plain values.

    "dataframe_records"/"dataframe_split" arrive as a DataFrame; "inputs" as records or as a
    dict (of columns, or of one brief's values); "instances" as a dict of columns. What is
    not a table is left to `parse_briefs` to refuse."""
    if isinstance(model_input, list) and all(isinstance(r, dict) for r in model_input):
        return pd.DataFrame([_plain(r) for r in model_input])
    if isinstance(model_input, dict):
        values = _plain(model_input)
        if all(np.ndim(v) == 0 for v in values.values()):
            return values  # one brief
        return pd.DataFrame(values)
    return model_input


def _plain(record: dict) -> dict:
    """MLflow's 0-d numpy arrays (how "inputs" carries a scalar) as Python values."""
    return {k: v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v
            for k, v in record.items()}


def _null_for_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing numbers as None, so the JSON answer says null (NaN is not valid JSON)."""
    gaps = [c for c in frame.columns if frame[c].dtype.kind == "f" and frame[c].isna().any()]
    if not gaps:
        return frame
    return frame.assign(**{c: frame[c].astype(object).where(frame[c].notna(), None)
                           for c in gaps})


class RankerModel(mlflow.pyfunc.PythonModel):
    """Stateless until `load_context`, which builds the Ranker from the model's artifacts."""

    def load_context(self, context) -> None:
        from recommender.ranker import Ranker

        refuse_unknown_params()
        model = ConversionModel.load(context.artifacts[MODEL_ARTIFACT])
        preference = None
        if PREFERENCE_ARTIFACT in context.artifacts:
            from recommender.preference import PreferenceModel

            preference = PreferenceModel.load(context.artifacts[PREFERENCE_ARTIFACT])
        self.ranker = Ranker(model, context.artifacts[SNAPSHOT_ARTIFACT], preference=preference)
        logger.info("ranker loaded: %d influencers, snapshot as of %s",
                    len(self.ranker.ids), self.ranker.as_of)

    def predict(self, context, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Briefs in, one row per recommendation out; a bad request raises a 400."""
        params = params or {}
        try:
            return _null_for_nan(self.ranker.recommend(
                _briefs(model_input), top_n=params.get("top_n"), as_of=params.get("as_of"),
                budget=params.get("budget")))
        except UserError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
        except Exception as exc:  # a bug: log the trace here, answer 500 without it
            logger.exception("ranker failed")
            raise MlflowException(f"internal error in the ranker: {type(exc).__name__}",
                                  error_code=INTERNAL_ERROR) from None


def pip_requirements() -> list[str]:
    """The installed versions of what the ranker imports, pinned."""
    return [f"{name}=={metadata.version(name)}" for name in PINNED]


def _model_kwargs(model: ConversionModel, ds, as_of: pd.Timestamp | None, tmp: Path,
                  preference=None) -> dict[str, Any]:
    from recommender.snapshot import build_snapshot, load_meta

    model.save(tmp / MODEL_ARTIFACT)
    snap = build_snapshot(ds, model, as_of, out_dir=tmp / SNAPSHOT_ARTIFACT)
    example_brand = str(ds.brands["brand_id"].iloc[0])
    artifacts = {MODEL_ARTIFACT: str(tmp / MODEL_ARTIFACT), SNAPSHOT_ARTIFACT: str(snap)}
    if preference is not None:
        artifacts[PREFERENCE_ARTIFACT] = str(preference.save(tmp / PREFERENCE_ARTIFACT).parent)
    return {
        "python_model": str(ENTRY),
        "artifacts": artifacts,
        "code_paths": [str(Path(__file__).parent)],
        "signature": SIGNATURE,
        "input_example": (pd.DataFrame([{"brand_id": example_brand}]), {"top_n": 5}),
        "pip_requirements": pip_requirements(),
        "metadata": {"snapshot_as_of": load_meta(snap)["as_of"]},
    }


def log_ranker(model: ConversionModel, ds, as_of: pd.Timestamp | None = None, *,
               name: str = "ranker", preference=None) -> mlflow.models.model.ModelInfo:
    """Log the ranker (model + fresh snapshot of `ds`, + the blended preference model if
    given) into the ACTIVE MLflow run."""
    if mlflow.active_run() is None:
        raise UserError("log_ranker must be called inside an MLflow run")
    with tempfile.TemporaryDirectory() as tmp, quiet_mlflow_hints():
        info = mlflow.pyfunc.log_model(name=name, **_model_kwargs(model, ds, as_of, Path(tmp),
                                                                  preference))
    logger.info("logged ranker %s", info.model_uri)
    return info


def save_ranker(model: ConversionModel, ds, path: Path | str,
                as_of: pd.Timestamp | None = None) -> Path:
    """Write the ranker as an MLflow model folder at `path` (no tracking store needed)."""
    with tempfile.TemporaryDirectory() as tmp, quiet_mlflow_hints():
        mlflow.pyfunc.save_model(str(path), **_model_kwargs(model, ds, as_of, Path(tmp)))
    return Path(path)


def _stored(model_uri: str) -> str:
    """" (tracking URI X)" for a model read from a store (checked to exist), else ""."""
    if model_uri.startswith(("models:/", "runs:/")):
        return f" (tracking URI {require_store(model_uri)})"
    return ""


def _download(model_uri: str, artifact: str) -> Path:
    where = _stored(model_uri)
    try:
        local = mlflow.artifacts.download_artifacts(f"{model_uri.rstrip('/')}/artifacts/{artifact}")
    except MlflowException as exc:
        raise UserError(f"model {model_uri}{where}: cannot read its {artifact} "
                        f"({exc.message})") from None
    return Path(local)


def load_conversion_model(model_uri: str) -> ConversionModel:
    """The ConversionModel inside a logged ranker (downloads only that artifact)."""
    return ConversionModel.load(_download(model_uri, MODEL_ARTIFACT))


def load_preference(model_uri: str):
    """The blended preference model inside a logged ranker, None if it carries none."""
    from recommender.preference import PreferenceModel

    try:
        local = mlflow.artifacts.download_artifacts(
            f"{model_uri.rstrip('/')}/artifacts/{PREFERENCE_ARTIFACT}")
    except (MlflowException, OSError):
        return None
    return PreferenceModel.load(local)


def check_model(model_uri: str) -> None:
    """Raise UserError unless `model_uri` names a ranker this code can serve (MLmodel only)."""
    where = _stored(model_uri)
    try:
        info = mlflow.models.get_model_info(model_uri)
    except (MlflowException, OSError) as exc:
        raise UserError(f"model {model_uri}{where}: cannot be found ({exc})") from None
    if "python_function" not in info.flavors:
        raise UserError(f"model {model_uri}: not an MLflow python_function model")


def load_ranker(model_uri: str):
    """The Ranker of a logged ranker, in this process (the same code path as serving)."""
    where = _stored(model_uri)
    try:
        loaded = mlflow.pyfunc.load_model(model_uri)
    except MlflowException as exc:
        raise UserError(f"model {model_uri}{where}: cannot be loaded ({exc.message})") from None
    return loaded.unwrap_python_model().ranker


def catalogue_ids(model_uri: str) -> tuple[set[str], set[str]]:
    """The brand ids and influencer ids of a logged ranker's snapshot (reads only those two
    tables), to check feedback against what the ranker can show."""
    ids = []
    for table, column in (("brands", "brand_id"), ("influencers", "influencer_id")):
        path = _download(model_uri, f"{SNAPSHOT_ARTIFACT}/{table}.parquet")
        ids.append(set(pd.read_parquet(path, columns=[column])[column].astype(str)))
    return ids[0], ids[1]
