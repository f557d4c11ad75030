"""Prometheus metrics: the runtime's own registry, what turns measure, and `/metrics`.

The registry belongs to one runtime rather than to the process (prometheus_client's
default), so two runtimes in one process (tests, a command beside `serve`) never count into
each other. What the conversations did is counted from the audit trail
(`adapters.audit.metrics`); a turn's channel and latency, and the store and directory
failures a turn met, are counted here by the turn runner.

`/metrics` shows counts only, never a person or an account, yet it tells anyone who can read
it how busy the bot is and when it fails: with `SSPR_METRICS_TOKEN` set it answers only a
request bearing that token (Prometheus's `authorization` setting), and without it it should
not be reachable from outside (keep the path off the reverse proxy).
"""

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from pydantic import BaseModel, ConfigDict, Field

from adapters.audit.metrics import AuditCounters
from adapters.directory import DirectoryUnavailable
from bot.http.bearer import BearerToken, presented_token
from state import StoreUnavailable

TOKEN_VARIABLE: Final = "SSPR_METRICS_TOKEN"  # noqa: S105 - the variable's name

# A chat turn takes a few milliseconds on local parts and seconds when a directory or a
# carrier is slow; past 15 s a channel has given up on the answer (Bot Framework: 15 s).
TURN_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)

# Channels known by name; any other channel id (a development client may send anything) is
# `other`, so no sender can grow the number of series.
KNOWN_CHANNELS: Final = frozenset(
    {"msteams", "slack", "webchat", "directline", "emulator", "console"}
)


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        True,
        description=(
            "Serve Prometheus metrics at /metrics on the bot's own port. Counts only, never "
            "a person, but keep the path off the public reverse proxy, or set "
            "SSPR_METRICS_TOKEN so that only a request bearing it is answered."
        ),
    )


def channel_label(channel: str) -> str:
    return channel if channel in KNOWN_CHANNELS else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.audit = AuditCounters(self.registry)
        self.turns = Counter(
            "sspr_turns", "Messages answered, by channel.", ["channel"], registry=self.registry
        )
        self.turn_seconds = Histogram(
            "sspr_turn_seconds",
            "How long a message took to answer, by channel.",
            ["channel"],
            buckets=TURN_BUCKETS,
            registry=self.registry,
        )
        self.store_errors = Counter(
            "sspr_store_errors",
            "Turns the state store failed, by where it was met.",
            ["where"],
            registry=self.registry,
        )
        self.directory_errors = Counter(
            "sspr_directory_errors",
            "Turns the directory failed, by where it was met.",
            ["where"],
            registry=self.registry,
        )

    @contextmanager
    def turn(self, channel: str) -> Iterator[None]:
        """Count one message and time it, however it ends."""
        label = channel_label(channel)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.turns.labels(label).inc()
            self.turn_seconds.labels(label).observe(time.perf_counter() - started)

    def unavailable(self, error: StoreUnavailable | DirectoryUnavailable, *, where: str) -> None:
        counter = (
            self.store_errors if isinstance(error, StoreUnavailable) else self.directory_errors
        )
        counter.labels(where).inc()

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)


METRICS_KEY = web.AppKey("metrics", Metrics)
TOKEN_KEY = web.AppKey("metrics_token", BearerToken)


def add_metrics_route(app: web.Application, metrics: Metrics, secrets: Mapping[str, str]) -> None:
    """`/metrics`, answering only a request bearing SSPR_METRICS_TOKEN when it is set."""
    app[METRICS_KEY] = metrics
    if token := secrets.get(TOKEN_VARIABLE, "").strip():
        app[TOKEN_KEY] = BearerToken(token)
    app.router.add_get("/metrics", metrics_page)


async def metrics_page(request: web.Request) -> web.Response:
    token = request.app.get(TOKEN_KEY)
    if token is not None and not _bears(request, token):
        return web.Response(
            status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"}
        )
    body = request.app[METRICS_KEY].exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _bears(request: web.Request, token: BearerToken) -> bool:
    presented = presented_token(request.headers.get("Authorization", ""))
    return presented is not None and token.matches(presented)
