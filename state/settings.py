"""The `state` section of the bot's config: where sessions, codes and lockout counters live."""

import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from state.base import Store, StoreMisconfigured
from state.clock import Clock
from state.memory import MemoryStore
from state.redis_clients import ConnectionOptions
from state.redis_store import RedisStore
from state.sqlite import SqliteStore

# Environment variables that keep Redis credentials out of the config file.
REDIS_URL_VARIABLE = "SSPR_REDIS_URL"
REDIS_USERNAME_VARIABLE = "SSPR_REDIS_USERNAME"
REDIS_PASSWORD_VARIABLE = "SSPR_REDIS_PASSWORD"  # noqa: S105 - the variable's name

# `host:port`, or `[IPv6 address]:port`.
_HOST_PORT = r"^([^\s:\[\]/@]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$"


class StateSettings(BaseModel):
    """Where the bot keeps conversations in progress, one-time codes and lockout counters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["memory", "sqlite", "redis"] = Field(
        default="sqlite",
        description=(
            "`sqlite` keeps state in one local file, so a restart does not forget "
            "conversations or lockouts (one bot instance). `redis` keeps it in a Redis "
            "server that several bot instances share. `memory` forgets everything on "
            "restart; use it only for trying the bot out."
        ),
    )
    path: str = Field(
        default="state.sqlite3",
        min_length=1,
        description=(
            "The SQLite file (created if missing, readable by the bot's user only). A "
            "relative path is taken from the bot's data directory. Used by `sqlite` only."
        ),
    )
    redis_mode: Literal["standalone", "cluster", "sentinel"] = Field(
        default="standalone",
        description=(
            "How the Redis is deployed, which says what `url` names. `standalone`: one "
            "server (or a managed service's single endpoint). `cluster`: Redis Cluster; "
            "`url` names any one of its nodes, the others are discovered, and the database "
            "is 0. `sentinel`: a primary (with replicas) that Redis Sentinel watches and "
            "fails over; `url` names one Sentinel, `sentinels` the others, and "
            "`sentinel_master` the primary. Used by `redis` only."
        ),
    )
    url: str = Field(
        default="redis://127.0.0.1:6379/0",
        pattern=r"^(redis|rediss|unix)://",
        description=(
            "The Redis server: `redis://host:port/db`, `rediss://host:port/db` for TLS, or "
            "`unix:///path/to/redis.sock` (standalone only). With `redis_mode: cluster`, "
            "any one node of the cluster; with `redis_mode: sentinel`, one Sentinel "
            "(`redis://sentinel-host:26379/db`), while the URL's user, password, database "
            "and TLS are the primary's. The SSPR_REDIS_URL environment variable overrides "
            "it, so a URL with a password stays out of this file; SSPR_REDIS_USERNAME and "
            "SSPR_REDIS_PASSWORD set the ACL user and password apart from the URL. Used by "
            "`redis` only."
        ),
    )
    sentinels: tuple[Annotated[str, Field(pattern=_HOST_PORT)], ...] = Field(
        default=(),
        description=(
            "With `redis_mode: sentinel`: the other Sentinels, `host:port` each "
            "(`[2001:db8::1]:26379` for IPv6), asked in turn after the one in `url`, so "
            "the bot finds the primary while a Sentinel is down. Reached with the URL's "
            "TLS setting, without its password. Empty in the other modes."
        ),
    )
    sentinel_master: str = Field(
        default="mymaster",
        min_length=1,
        description=(
            "With `redis_mode: sentinel`: the name the Sentinels know the primary by (the "
            "name in their `sentinel monitor <name> ...` line)."
        ),
    )
    key_prefix: str = Field(
        default="sspr:",
        pattern=r"^[^{}]*$",
        description=(
            "Put in front of every Redis key, so several bots (or other applications) can "
            "share one Redis. Must not contain `{` or `}`. Used by `redis` only."
        ),
    )
    tls_ca_file: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "A PEM file of the certificate authorities that sign the Redis server's TLS "
            "certificate, for a `rediss://` URL (a private CA); they are trusted besides "
            "the system's authorities. A relative path is taken from the bot's data "
            "directory. Used by `redis` only."
        ),
    )
    timeout: float = Field(
        default=2.0,
        gt=0,
        description=(
            "Seconds one store call may take (a free connection, connecting, the answer) "
            "before the turn is answered with 'briefly unavailable' and `/readyz` reports "
            "not ready. Used by `redis` only."
        ),
    )

    @model_validator(mode="after")
    def _sentinels_need_sentinel_mode(self) -> Self:
        if self.sentinels and self.redis_mode != "sentinel":
            raise ValueError("`sentinels` is used only with `redis_mode: sentinel`")
        return self


async def open_store(
    settings: StateSettings,
    *,
    data_dir: Path,
    clock: Clock,
    environ: Mapping[str, str],
) -> Store:
    """The configured backend, opened; StoreUnavailable if its file or server cannot be used.

    `environ` (the variables the command read at start) supplies the Redis URL and
    credentials that override the file's.
    """
    if settings.backend == "memory":
        return MemoryStore(clock)
    if settings.backend == "redis":
        if settings.tls_ca_file is not None:
            _check_ca_file(data_dir / settings.tls_ca_file)
        url, options = redis_connection(settings, environ=environ, data_dir=data_dir)
        try:
            return await RedisStore.open(url, clock, key_prefix=settings.key_prefix, **options)
        except ValueError as error:
            raise StoreMisconfigured(f"state: {error}") from None
    return await SqliteStore.open(data_dir / settings.path, clock)


def redis_connection(
    settings: StateSettings, *, environ: Mapping[str, str], data_dir: Path
) -> tuple[str, ConnectionOptions]:
    """The URL and connection options of the configured Redis, the environment's URL and
    credentials winning over the file's: for the store and for anything else that reaches
    the same Redis (the audit trail's stream)."""
    ca_file = None if settings.tls_ca_file is None else str(data_dir / settings.tls_ca_file)
    options: ConnectionOptions = {
        "mode": settings.redis_mode,
        "sentinels": settings.sentinels,
        "sentinel_master": settings.sentinel_master,
        "username": environ.get(REDIS_USERNAME_VARIABLE) or None,
        "password": environ.get(REDIS_PASSWORD_VARIABLE) or None,
        "tls_ca_file": ca_file,
        "timeout": settings.timeout,
    }
    return environ.get(REDIS_URL_VARIABLE) or settings.url, options


def _check_ca_file(path: Path) -> None:
    """Read the CA file now, so that a wrong path stops start-up with its name instead of
    looking like a Redis outage at the first turn."""
    try:
        ssl.create_default_context(cafile=str(path))
    except (OSError, ssl.SSLError) as error:
        reason = getattr(error, "strerror", None) or "not a PEM file of certificates"
        raise StoreMisconfigured(f"state.tls_ca_file {path}: {reason}") from None
