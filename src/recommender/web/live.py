"""The page's current ranker: for a registry alias, swapped for the version the alias names
once it moves (checked at most every `interval` seconds, loaded in the background, so that no
request waits for a load and none sees half of one)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from recommender.web.snapshot import PageData, page_data

logger = logging.getLogger(__name__)

RELOAD_SECONDS = 30.0


@dataclass(frozen=True)
class Loaded:
    """One loaded ranker with what the page shows of it."""

    ranker: object
    data: PageData
    model_text: str
    version: str | None = None  # the registered version, when loaded from the registry

    @property
    def as_of_text(self) -> str:
        return f"{self.data.as_of:%Y-%m-%d %H:%M} UTC"


def loaded(ranker, model_text: str, data_dir: Path | None = None,
           version: str | None = None) -> Loaded:
    """The page's view of `ranker`."""
    return Loaded(ranker, page_data(ranker, data_dir), model_text, version)


class Live:
    """The ranker a page serves now. With `newer` (a function returning the Loaded of the
    version an alias names if it is not `version`, else None), it is asked in a background
    thread at most every `interval` seconds and its answer replaces the current one."""

    def __init__(self, first: Loaded, newer: Callable[[str | None], Loaded | None] | None = None,
                 interval: float = RELOAD_SECONDS) -> None:
        self._current, self._newer, self.interval = first, newer, interval
        self._checked = time.monotonic()
        self._busy = threading.Lock()

    def current(self) -> Loaded:
        """The ranker to answer this request with (never blocks on a reload)."""
        if self._newer is not None and time.monotonic() - self._checked >= self.interval:
            if self._busy.acquire(blocking=False):
                self._checked = time.monotonic()
                threading.Thread(target=self._reload, name="page-reload", daemon=True).start()
        return self._current

    def _reload(self) -> None:
        try:
            fresh = self._newer(self._current.version)
            if fresh is not None:
                logger.info("the alias moved: now serving %s", fresh.model_text)
                self._current = fresh  # one reference swap: a request sees old or new
        except Exception:  # a registry hiccup must never take the page down
            logger.exception("could not check or load the model the alias names")
        finally:
            self._checked = time.monotonic()
            self._busy.release()
