"""How commands fail and stop: the error a user can fix (a one-line message, never a trace),
and SIGTERM handled like Ctrl+C."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class UserError(ValueError):
    """Bad input or a bad request: the message names the file or field and the value."""


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt meanwhile, so that a job stopped by `kill` (or a
    scheduler's timeout) unwinds like one stopped by Ctrl+C: temporary files are removed,
    MLflow runs end as KILLED, Dask clusters shut down. A no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
