"""Tree inference for batch scoring: compiled (lleaves) where installed and exact, else LightGBM.

lleaves compiles the booster's trees to native code with LLVM. It is optional: where it is
not installed, cannot compile, or disagrees with `Booster.predict` by more than
`TOLERANCE` on the first rows it is asked to score, `Booster.predict` is used instead. The
compiled library is cached on disk under a key made of the model text, the lleaves and
llvmlite versions and the host CPU, so a model is compiled once per machine.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import tempfile
from pathlib import Path

import numpy as np

from recommender.io import atomic_path

logger = logging.getLogger(__name__)

TOLERANCE = 1e-6
CHECK_ROWS = 2_000
BACKENDS = ("auto", "lleaves", "lightgbm")
CACHE_ENV = "RECOMMENDER_CACHE"


def cache_dir() -> Path:
    """Where compiled models are kept: $RECOMMENDER_CACHE, else ~/.cache/recommender."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "recommender"
    return Path(root) / "lleaves"


def lleaves_available() -> bool:
    """True when lleaves (and an llvmlite it can use) imports."""
    try:
        import lleaves  # noqa: F401
    except Exception:  # ImportError, or an llvmlite too new for it
        return False
    return True


def _cache_key(model_text: str) -> str:
    from importlib import metadata

    import llvmlite.binding as llvm

    parts = [model_text, metadata.version("lleaves"), metadata.version("llvmlite"),
             platform.machine(), llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def compile_lleaves(model_text: str, directory: Path | None = None):
    """An lleaves.Model of the booster text, compiled once and cached (atomic rename)."""
    import lleaves

    directory = Path(directory or cache_dir())
    directory.mkdir(parents=True, exist_ok=True)
    key = _cache_key(model_text)
    library = directory / f"{key}.so"
    booster_file = directory / f"{key}.txt"
    if not booster_file.exists():
        with atomic_path(booster_file) as tmp:
            tmp.write_bytes(model_text.encode())
    compiled = lleaves.Model(model_file=str(booster_file))
    if library.exists():
        compiled.compile(cache=str(library))
        return compiled
    logger.info("compiling the model with lleaves (cached in %s)", library)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        built = Path(tmp) / library.name
        compiled.compile(cache=str(built))
        os.replace(built, library)
    return compiled


class TreePredictor:
    """`Booster.predict` of a LightGBM booster, through lleaves when that is available and exact.

    `backend`: "auto" (lleaves if it loads and matches, else LightGBM), "lleaves" (the same,
    but a fallback is logged as a warning) or "lightgbm". Not picklable state (the compiled
    library) is dropped when pickled and rebuilt from the cache on first use.
    """

    def __init__(self, booster, backend: str = "auto", cache: Path | None = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.booster, self.requested, self.cache = booster, backend, cache
        self._compiled = None
        self._checked = backend == "lightgbm"
        self.backend = "lightgbm" if backend == "lightgbm" else "unchecked"

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_compiled"] = None
        # the receiving process decides for itself: a copy taken while `_choose` runs (Dask
        # moves data between workers from another thread) must not carry a half-made choice
        if state["requested"] != "lightgbm":
            state["_checked"], state["backend"] = False, "unchecked"
        return state

    def predict(self, matrix: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Probabilities, exactly (within TOLERANCE) those of `booster.predict(matrix)`."""
        if not self._checked:
            self._choose(matrix)
        if self.backend == "lleaves":
            return self._compiled.predict(np.ascontiguousarray(matrix, dtype=np.float64),
                                          n_jobs=num_threads or os.cpu_count() or 1)
        return self.booster.predict(matrix, num_threads=num_threads or 0)

    def _choose(self, matrix: np.ndarray) -> None:
        """Compile, then compare with Booster.predict on the first rows; keep whichever holds."""
        self._checked, self.backend = True, "lightgbm"
        loud = logger.warning if self.requested == "lleaves" else logger.info
        if not lleaves_available():
            loud("lleaves is not installed (or its llvmlite is too new): using Booster.predict")
            return
        try:
            self._compiled = compile_lleaves(self.booster.model_to_string(), self.cache)
            sample = np.ascontiguousarray(matrix[:CHECK_ROWS], dtype=np.float64)
            gap = float(np.max(np.abs(self._compiled.predict(sample, n_jobs=1)
                                      - self.booster.predict(sample, num_threads=1)),
                               initial=0.0))
        except Exception as exc:  # a compiler failure must never stop scoring
            loud("lleaves failed (%s): using Booster.predict", exc)
            self._compiled = None
            return
        if gap > TOLERANCE:
            loud("lleaves differs from Booster.predict by %.3g: using Booster.predict", gap)
            self._compiled = None
            return
        self.backend = "lleaves"
        logger.info("scoring with lleaves (max gap %.2g on %d rows)", gap, len(sample))
