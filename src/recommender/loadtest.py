"""Load on a scoring server: start `recommender serve`, fire a bounded burst of good and bad
requests from concurrent clients, and report latencies, throughput and failures.

Used by the load test and the serving benchmark; also handy against a deployment:
`run_load("http://127.0.0.1:5001", mixed_requests(["b001"], 200))`.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recommender import config

logger = logging.getLogger(__name__)

JSON = "application/json"


@dataclass(frozen=True)
class Request:
    """One request body and whether a correct server answers it with 200 (else a 4xx)."""

    body: bytes
    good: bool
    content_type: str = JSON
    label: str = ""


@dataclass(frozen=True)
class Outcome:
    """What the server answered one request: status (0: no answer), seconds, body."""

    request: Request
    status: int
    seconds: float
    body: str


@dataclass
class LoadResult:
    """Every outcome of a burst and its wall time."""

    outcomes: list[Outcome] = field(default_factory=list)
    wall_seconds: float = 0.0
    stopped_early: bool = False

    @property
    def failed_good(self) -> list[Outcome]:
        """Good requests not answered 200 with predictions."""
        return [o for o in self.outcomes if o.request.good and
                (o.status != 200 or '"predictions"' not in o.body)]

    @property
    def bad_not_4xx(self) -> list[Outcome]:
        """Bad requests not refused with a 4xx."""
        return [o for o in self.outcomes if not o.request.good and not 400 <= o.status < 500]

    def latency_ms(self, q: float) -> float:
        """The q-th percentile of the latency of the good requests, in ms."""
        times = [o.seconds for o in self.outcomes if o.request.good]
        return float(np.percentile(times, q) * 1000) if times else float("nan")

    @property
    def requests_per_second(self) -> float:
        return len(self.outcomes) / self.wall_seconds if self.wall_seconds else float("nan")


def _body(payload: dict | bytes) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def mixed_requests(brand_ids: Sequence[str], n: int, bad_share: float = 0.3,
                   seed: int = 0) -> list[Request]:
    """`n` requests, about `bad_share` of them bad: good ones ask a known brand's top N (1 to
    20, sometimes filtered by platform or followers); bad ones hold an unknown or path-like
    brand, top_n out of range or not whole, too many briefs, a wrong type, broken JSON or
    the wrong content type."""
    rng = np.random.default_rng(seed)
    brands = list(brand_ids)
    too_many = [{"brand_id": brands[0]}] * (config.MAX_BRIEFS_PER_REQUEST + 1)
    bad: list[tuple[str, dict | bytes, str]] = [
        ("unknown brand", {"dataframe_records": [{"brand_id": "no-such-brand"}]}, JSON),
        ("path as brand", {"dataframe_records": [{"brand_id": "../../../etc/passwd"}]}, JSON),
        ("top_n 0", {"dataframe_records": [{"brand_id": brands[0]}], "params": {"top_n": 0}},
         JSON),
        ("top_n above max", {"dataframe_records": [{"brand_id": brands[0]}],
                             "params": {"top_n": config.MAX_TOP_N + 1}}, JSON),
        ("top_n 1.5", {"dataframe_records": [{"brand_id": brands[0]}],
                       "params": {"top_n": 1.5}}, JSON),
        ("too many briefs", {"dataframe_records": too_many}, JSON),
        ("text min_followers", {"dataframe_records": [{"brand_id": brands[0],
                                                       "min_followers": "many"}]}, JSON),
        ("unknown platform", {"dataframe_records": [{"brand_id": brands[0],
                                                     "platform": "myspace"}]}, JSON),
        ("broken JSON", b'{"dataframe_records": [', JSON),
        ("not a table", {"dataframe_records": "b001"}, JSON),
        ("wrong content type", b"brand_id\nb001\n", "text/plain"),
    ]
    out = []
    for i in range(n):
        if rng.random() < bad_share:
            label, payload, ctype = bad[i % len(bad)]
            out.append(Request(_body(payload), False, ctype, label))
            continue
        brief: dict = {"brand_id": str(rng.choice(brands))}
        if rng.random() < 0.3:
            brief["platform"] = str(rng.choice(["instagram", "tiktok", "youtube"]))
        if rng.random() < 0.3:
            brief["min_followers"] = int(rng.choice([1_000, 5_000, 20_000]))
        payload = {"dataframe_records": [brief], "params": {"top_n": int(rng.integers(1, 21))}}
        out.append(Request(_body(payload), True, JSON, "top-n"))
    return out


def _client(url: str, queue: Iterator[Request], lock: threading.Lock, results: list[Outcome],
            timeout: float, stop_at: float) -> None:
    """One client: a kept-alive connection, requests taken from the shared queue in turn."""
    parts = urllib.parse.urlsplit(url)
    path = (parts.path.rstrip("/") or "") + "/invocations"
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        while time.monotonic() < stop_at:
            with lock:
                req = next(queue, None)
            if req is None:
                return
            start = time.perf_counter()
            try:
                conn.request("POST", path, body=req.body, headers={"Content-Type":
                                                                   req.content_type})
                resp = conn.getresponse()
                status, body = resp.status, resp.read().decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as exc:
                status, body = 0, f"{type(exc).__name__}: {exc}"
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
            outcome = Outcome(req, status, time.perf_counter() - start, body)
            with lock:
                results.append(outcome)
    finally:
        conn.close()


def run_load(url: str, requests: Sequence[Request], clients: int = 4,
             timeout: float = 30.0, max_seconds: float = 120.0) -> LoadResult:
    """Send `requests` from `clients` concurrent clients (each takes the next request when
    it is free) to `url`/invocations. Stops by itself: after the last request, or when
    `max_seconds` have passed (then `stopped_early`)."""
    queue, lock, results = iter(requests), threading.Lock(), []
    stop_at = time.monotonic() + max_seconds
    start = time.perf_counter()
    threads = [threading.Thread(target=_client, args=(url, queue, lock, results, timeout,
                                                      stop_at), daemon=True)
               for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + timeout)
    result = LoadResult(list(results), time.perf_counter() - start)
    result.stopped_early = len(result.outcomes) < len(requests)
    return result


# --- a real server for tests and benchmarks --------------------------------------------


def free_port(host: str = config.DEFAULT_HOST) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ping(url: str, timeout: float = 2.0) -> bool:
    """True when the server at `url` answers /ping with 200."""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


@dataclass
class Server:
    """A running `recommender serve` process group and where it listens."""

    process: subprocess.Popen
    url: str
    port: int
    log: Path

    def stop(self) -> None:
        """SIGTERM the whole group (recommender, mlflow, uvicorn); SIGKILL if it lingers."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


def start_server(model_uri: str, log: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, extra_args: Sequence[str] = (),
                 start_timeout: float = 180.0) -> Server:
    """Start `recommender serve --model MODEL_URI` on a free loopback port (its own process
    group) and wait until /ping answers; the caller stops it with `Server.stop()`."""
    port = free_port()
    cmd = [sys.executable, "-m", "recommender.cli", "serve", "--model", model_uri,
           "--port", str(port), *extra_args]
    with open(log, "wb") as sink:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Server(proc, f"http://{config.DEFAULT_HOST}:{port}", port, Path(log))
    deadline = time.monotonic() + start_timeout
    while not ping(server.url):
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            tail = Path(log).read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the server did not start:\n{tail}")
        time.sleep(0.5)
    return server
