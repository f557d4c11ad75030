"""`sspr-bot serve`: the bot's HTTP endpoints on one address and port.

An address or port that cannot work stops start-up before any file is touched, in one line
that names the option or setting to change.
"""

import argparse
import asyncio
import errno
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot.commands.configured import configured_settings
from bot.commands.errors import CannotStart

if TYPE_CHECKING:
    from pathlib import Path

    from adapters.delivery.outbox import Console
    from bot.botframework.credentials import BotFrameworkAuth
    from bot.runtime import Runtime
    from bot.secrets import Secrets
    from bot.settings import ServerSettings, Settings

log = logging.getLogger("sspr-bot")


def run_loop(choice: str, main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on uvloop when `choice` allows and it is installed, else on asyncio's
    loop; the loop in use is logged, since it changes how many turns a second one process
    serves."""
    runner: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
    if choice == "auto":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            runner = uvloop.run
    log.info("event loop", extra={"loop": "uvloop" if runner is not asyncio.run else "asyncio"})
    runner(main)


def serve_bot(args: argparse.Namespace) -> int:
    from adapters.addresses import is_loopback
    from bot.botframework.credentials import from_environment
    from bot.delivery import outbox_in_production
    from bot.secrets import Secrets
    from bot.webchat.routes import PAGE_PATH

    secrets = Secrets.from_environment()
    auth = from_environment(secrets)
    settings = configured_settings(args)
    host = settings.server.host if args.host is None else args.host
    port = settings.server.port if args.port is None else args.port
    development = auth.development
    if development and not is_loopback(host):
        raise CannotStart(
            f"without MicrosoftAppId the bot runs in development mode, which checks no "
            f"tokens, so it listens on loopback addresses only, not {host}: use --host "
            f"127.0.0.1 or set MicrosoftAppId"
        )
    if not development and (problem := outbox_in_production(settings.delivery)):
        raise CannotStart(problem)
    if settings.server.public_url is None and not is_loopback(host):
        raise CannotStart(
            f"server.public_url: set it to the https address people reach the bot at (its "
            f"reverse proxy); without it, password page links, which carry a one-time secret, "
            f"would be plain http to {host}, beyond this machine"
        )
    with _reserved(host, port) as reservation:
        bound = reservation.getsockname()[1]
        server = settings.server.model_copy(update={"host": host, "port": bound})
        served = settings.model_copy(update={"server": server})
        if served.webchat.enabled:
            print(f"Web chat: {server.base_url}{PAGE_PATH}", flush=True)
        if development:
            log.warning(
                "DEVELOPMENT MODE: MicrosoftAppId is not set, so requests are NOT "
                "authenticated and the channel's user id is trusted as the username. "
                "Loopback only.",
                extra={"host": host, "port": bound},
            )
        if notice := _public_url_notice(server):
            log.warning(notice, extra={"public_url": server.public_url, "port": bound})
        serving = _run_server(served, reservation, secrets, auth, config=(args.config, settings))
        run_loop(settings.server.event_loop, serving)
    return 0


@contextmanager
def _reserved(host: str, port: int) -> Iterator[socket.socket]:
    """host:port bound, not yet listening, for the length of the block.

    Binding first makes a busy port or an address that is not this machine's stop start-up
    before any file is touched, and gives port 0 its number before links are made from it.
    Both this socket and the server's set SO_REUSEADDR (asyncio sets it on its own), which
    lets the server bind the same address while this one holds it; close this one once the
    server listens.
    """
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise CannotStart(
            f"{host!r} is not a name or address of this machine ({error.strerror}); choose "
            f"another with --host or server.host"
        ) from None
    reservation = socket.socket(family, kind, protocol)
    try:
        reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            reservation.bind(address)
        except OSError as error:
            raise CannotStart(_listen_problem(error, host, port)) from None
        yield reservation
    finally:
        reservation.close()


def _listen_problem(error: OSError, host: str, port: int) -> str:
    """Why the server cannot listen on host:port, and which setting to change."""
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use; choose another with --port or server.port"
    if error.errno == errno.EACCES:
        return (
            f"port {port} on {host} is not open to this account (ports below 1024 need "
            f"privileges); choose another with --port or server.port"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return (
            f"{host} is not an address of this machine; choose another with --host or server.host"
        )
    return f"cannot listen on port {port} on {host} ({error.strerror})"


def _public_url_notice(server: "ServerSettings") -> str | None:
    """What to tell the operator when links go to a configured public URL that is not the
    loopback address served; None when they match or the server listens beyond loopback
    (where the public URL is the way in)."""
    from adapters.addresses import is_loopback
    from bot.settings import served_url

    if server.public_url is None or not is_loopback(server.host):
        return None
    public = urlsplit(server.public_url)
    here = public.scheme == "http" and is_loopback(public.hostname or "")
    if here and (public.port or 80) == server.port:
        return None
    return (
        f"server.public_url is {server.public_url}, not the address served "
        f"({served_url(server.host, server.port)}): password page links open that address, "
        f"so it must lead here (a reverse proxy), or remove server.public_url"
    )


async def _run_server(
    settings: "Settings",
    reservation: socket.socket,
    secrets: "Secrets",
    auth: "BotFrameworkAuth",
    *,
    config: "tuple[Path | None, Settings]",
) -> None:
    """`config`: the file the settings came from (None: the embedded defaults) and what it
    said before any command-line option, for reloading it (`bot.reload`)."""
    from bot.reload import reloading
    from bot.runtime import http_application
    from bot.server_limits import connection_limits, serving_with_limits

    host, port = settings.server.host, settings.server.port
    limits = connection_limits(settings.server)
    runtime = await started(settings, secrets)
    try:
        async with AsyncExitStack() as serving:
            terminated = serving.enter_context(_on_sigterm())
            app = http_application(runtime, auth)
            try:
                await serving.enter_async_context(serving_with_limits(app, host, port, limits))
            except OSError as error:
                raise CannotStart(_listen_problem(error, host, port)) from None
            reservation.close()
            shown = f"[{host}]" if ":" in host else host
            path, started_with = config
            if path is not None:
                watched = reloading(
                    path, started=started_with, versions=runtime.versions, audit=runtime.audit
                )
                await serving.enter_async_context(watched)
            else:
                serving.enter_context(_no_file_to_reload())
            log.info("listening", extra={"url": f"http://{shown}:{port}/api/messages"})
            await terminated.wait()
            log.info("stopping: SIGTERM")
    finally:
        await runtime.close()


@contextmanager
def _no_file_to_reload() -> Iterator[None]:
    """On the embedded defaults there is no file to re-read: SIGHUP (`systemctl reload`)
    says so instead of ending the bot, its default."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(
        signal.SIGHUP,
        lambda: log.warning("SIGHUP: no config file to reload (started on the embedded defaults)"),
    )
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


@contextmanager
def _on_sigterm() -> Iterator[asyncio.Event]:
    """An event set at SIGTERM, so that a service manager's or Kubernetes' stop closes the
    bot as Ctrl-C (SIGINT) does: connections drained, the runtime closed in order. Taken
    before the server listens, so a stop sent as soon as it answers is not the default
    kill."""
    terminated = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, terminated.set)
    try:
        yield terminated
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


async def started(
    settings: "Settings", secrets: "Secrets", *, console: "Console | None" = None
) -> "Runtime":
    """The runtime, opened; a file or folder it cannot use stops start-up in one line."""
    from bot.runtime import start_runtime

    try:
        return await start_runtime(settings, secrets=secrets, console=console or sys.stdout)
    except OSError as error:
        if error.filename is None:
            raise CannotStart(str(error)) from None
        raise CannotStart(
            f"{error.filename}: {error.strerror} (data_dir is {settings.data_dir})"
        ) from None
