"""Redis over TLS with an ACL user, end to end against a real redis-server that speaks only
TLS (a certificate from a throwaway CA) and whose only enabled user may touch `sspr:*` keys.

Every store is opened the way the bot opens it (`open_store` with the `state` settings and
an environment), and the CA is always named in the settings: the machine's own CA bundle
(SSL_CERT_FILE and the like) must play no part.
"""

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from state import (
    FrozenClock,
    StateSettings,
    Store,
    StoreMisconfigured,
    StoreUnavailable,
    open_store,
)
from state.redis_store import record_key
from tests.support.ports import HOST
from tests.support.redis import REDIS_TLS_USER, TlsRedisServer
from tests.support.tls import write_unrelated_ca

OpenTls = Callable[..., Awaitable[Store]]

WRONG_PASSWORD = "not-the-pa55word-either"

# How the store reports Redis's NOPERM (a key outside the ACL user's patterns).
NO_PERMISSION = "NoPermissionError: this user has no permissions"


@pytest.fixture
async def open_tls(tmp_path: Path) -> AsyncIterator[OpenTls]:
    """Opens stores as the bot does (`environ` as its environment, `settings` as its
    `state` section, backend redis) and closes them at the end."""
    opened: list[Store] = []

    async def open_(environ: Mapping[str, str], **settings: Any) -> Store:
        store = await open_store(
            StateSettings(backend="redis", **settings),
            data_dir=tmp_path,
            clock=FrozenClock(),
            environ=environ,
        )
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


def credentials(server: TlsRedisServer) -> dict[str, str]:
    """The ACL user's name and password as the bot's environment gives them."""
    assert server.username is not None
    assert server.password is not None
    return {"SSPR_REDIS_USERNAME": server.username, "SSPR_REDIS_PASSWORD": server.password}


def url_with(
    server: TlsRedisServer, password: str, *, scheme: str = "rediss", host: str = HOST
) -> str:
    return f"{scheme}://{server.username}:{password}@{host}:{server.port}/0"


def server_keys(server: TlsRedisServer) -> set[str]:
    with server.client() as client:
        return {key.decode() for key in client.keys("*")}


async def round_trip(store: Store) -> None:
    """A session written, read back, and a counter taken up to its limit."""
    etag = await store.put("session:19:abc@thread.v2", {"state": "verifying"}, ttl=600)
    record = await store.get("session:19:abc@thread.v2")
    assert record is not None
    assert record.value == {"state": "verifying"}
    assert record.etag == etag
    assert [await store.take("fail:alice", limit=2, window=60) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    assert await store.count("fail:alice", window=60) == 2


# TLS and the ACL user, as the bot is meant to be configured.


async def test_rediss_url_with_the_acl_user_from_the_environment(
    redis_tls: TlsRedisServer, open_tls: OpenTls, tmp_path: Path
) -> None:
    """The URL names only the server; the user and password come from the environment;
    the CA file is named relative to the data directory. The server has no plain port and
    its default user is off, so every command here went over TLS as the ACL user."""
    shutil.copy(redis_tls.tls.ca, tmp_path / "redis-ca.pem")
    store = await open_tls(
        {"SSPR_REDIS_URL": redis_tls.url, **credentials(redis_tls)},
        tls_ca_file="redis-ca.pem",
    )

    await round_trip(store)

    assert record_key("session:19:abc@thread.v2") in server_keys(redis_tls)


async def test_without_credentials_the_server_refuses(
    redis_tls: TlsRedisServer, open_tls: OpenTls
) -> None:
    """The default user is off: what works above worked as the ACL user."""
    with pytest.raises(StoreUnavailable, match="AuthenticationError"):
        await open_tls({"SSPR_REDIS_URL": redis_tls.url}, tls_ca_file=str(redis_tls.tls.ca))


@pytest.mark.parametrize("host", [HOST, "localhost"])
async def test_credentials_in_the_url_itself(
    redis_tls: TlsRedisServer, open_tls: OpenTls, host: str
) -> None:
    """User and password in the config file's URL, no environment; the server is named by
    address or by name (the certificate holds both, and the name is checked)."""
    assert redis_tls.password is not None
    store = await open_tls(
        {},
        url=url_with(redis_tls, redis_tls.password, host=host),
        tls_ca_file=str(redis_tls.tls.ca),
    )

    await round_trip(store)


async def test_the_environments_password_wins_over_the_urls(
    redis_tls: TlsRedisServer, open_tls: OpenTls
) -> None:
    store = await open_tls(
        {"SSPR_REDIS_URL": url_with(redis_tls, WRONG_PASSWORD), **credentials(redis_tls)},
        tls_ca_file=str(redis_tls.tls.ca),
    )

    await round_trip(store)


@pytest.mark.parametrize("given_in", ["environment", "url"])
async def test_a_wrong_password_is_refused_and_no_password_is_shown(
    redis_tls: TlsRedisServer, open_tls: OpenTls, given_in: str
) -> None:
    assert redis_tls.password is not None
    if given_in == "environment":
        environ = {
            "SSPR_REDIS_URL": redis_tls.url,
            "SSPR_REDIS_USERNAME": REDIS_TLS_USER,
            "SSPR_REDIS_PASSWORD": WRONG_PASSWORD,
        }
    else:
        environ = {"SSPR_REDIS_URL": url_with(redis_tls, WRONG_PASSWORD)}

    with pytest.raises(StoreUnavailable) as refused:
        await open_tls(environ, tls_ca_file=str(redis_tls.tls.ca))

    message = str(refused.value)
    assert f"rediss://{HOST}:{redis_tls.port}/0" in message
    assert "AuthenticationError" in message
    assert WRONG_PASSWORD not in message
    assert redis_tls.password not in message


async def test_the_acl_user_cannot_touch_keys_outside_its_prefix(
    redis_tls: TlsRedisServer, open_tls: OpenTls
) -> None:
    """The server confines the ACL user to `sspr:*`: a store with another prefix connects
    (PING names no key) but every read and write is refused, and nothing is written."""
    store = await open_tls(
        {"SSPR_REDIS_URL": redis_tls.url, **credentials(redis_tls)},
        tls_ca_file=str(redis_tls.tls.ca),
        key_prefix="other:",
    )
    operations: list[Callable[[], Awaitable[object]]] = [
        lambda: store.put("session:1", {"state": "start"}),
        lambda: store.get("session:1"),
        lambda: store.take("fail:alice", limit=5, window=60),
        lambda: store.delete("session:1"),
    ]

    for operation in operations:
        with pytest.raises(StoreUnavailable, match=NO_PERMISSION):
            await operation()

    assert server_keys(redis_tls) == set()


# What must fail, and fail cleanly.


async def test_a_plain_url_against_the_tls_port_fails_cleanly(
    redis_tls: TlsRedisServer, open_tls: OpenTls
) -> None:
    assert redis_tls.password is not None
    with pytest.raises(StoreUnavailable) as refused:
        await open_tls(
            {"SSPR_REDIS_URL": url_with(redis_tls, redis_tls.password, scheme="redis")},
            timeout=1.0,
        )

    message = str(refused.value)
    assert f"redis://{HOST}:{redis_tls.port}/0" in message
    assert redis_tls.password not in message


@pytest.mark.parametrize("trusted", ["an unrelated CA", "the system's CAs"])
async def test_a_certificate_from_an_untrusted_ca_is_refused(
    redis_tls: TlsRedisServer, open_tls: OpenTls, tmp_path: Path, trusted: str
) -> None:
    """The server's certificate is really verified: against a CA file that did not sign
    it, and (no CA file) against the machine's authorities, which do not know the
    throwaway CA."""
    settings: dict[str, Any] = {}
    if trusted == "an unrelated CA":
        settings["tls_ca_file"] = str(write_unrelated_ca(tmp_path / "unrelated-ca.pem"))

    with pytest.raises(StoreUnavailable, match="certificate verify failed") as refused:
        await open_tls({"SSPR_REDIS_URL": redis_tls.url, **credentials(redis_tls)}, **settings)

    assert redis_tls.password is not None
    assert redis_tls.password not in str(refused.value)


@pytest.mark.parametrize("url_from", ["settings", "environment"])
async def test_a_tls_ca_file_with_a_plain_url_is_refused_before_connecting(
    redis_tls: TlsRedisServer, open_tls: OpenTls, url_from: str
) -> None:
    """A CA file says TLS was meant; a `redis://` URL would silently go without it."""
    plain = f"redis://{HOST}:{redis_tls.port}/0"
    settings: dict[str, Any] = {"tls_ca_file": str(redis_tls.tls.ca)}
    environ = credentials(redis_tls)
    if url_from == "settings":
        settings["url"] = plain
    else:
        environ["SSPR_REDIS_URL"] = plain

    with pytest.raises(StoreMisconfigured, match=r"TLS CA file needs a rediss:// Redis URL"):
        await open_tls(environ, **settings)


async def test_a_ca_file_that_cannot_be_read_stops_start_up_by_name(
    redis_tls: TlsRedisServer, open_tls: OpenTls, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-ca.pem"
    not_pem = tmp_path / "not-a-ca.pem"
    not_pem.write_text("hello")
    for ca_file in (missing, not_pem):
        with pytest.raises(StoreMisconfigured, match=str(ca_file)):
            await open_tls(credentials(redis_tls), tls_ca_file=str(ca_file))
