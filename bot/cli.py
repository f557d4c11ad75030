"""The `sspr-bot` command.

Only the standard library is imported up front; each command imports what it needs when
it runs, so `sspr-bot --help` (or a typo) answers at once instead of after loading the
Agents SDK, aiohttp and the directory clients.

An operator's mistake (a busy port, a missing file, an address that is not this machine's)
is one line on stderr and exit code 2; a traceback means a bug.
"""

import argparse
import asyncio
import errno
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.settings import ServerSettings, Settings

log = logging.getLogger("sspr-bot")

MERMAID = ".mmd"
DOT_SOURCE = (".dot", ".gv")
DRAWN = (".svg", ".png")  # by Graphviz's `dot`
DOT_WAIT = 60.0  # seconds: `dot` lays out this graph in well under one


class OperatorError(Exception):
    """Something the person running the command can fix: said in one line, exit code 2."""

    prefix = "sspr-bot"


class CannotStart(OperatorError):
    """The bot cannot start as configured (an address, a port, a file)."""

    prefix = "sspr-bot cannot start"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        problems = _operator_problems(error)
        if problems is None:
            raise
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2


def _operator_problems(error: Exception) -> list[str] | None:
    """The lines that explain an operator's mistake, or None for anything else (a bug)."""
    from bot.config_file import ConfigError

    if isinstance(error, ConfigError):
        return list(error.problems)
    if isinstance(error, OperatorError):
        return [f"{error.prefix}: {error}"]
    if isinstance(error, _startup_failures()):
        return [f"{CannotStart.prefix}: {error}"]
    return None


def _startup_failures() -> tuple[type[Exception], ...]:
    """What the parts raise for a setting or a secret that cannot work; their messages say
    which one and are safe to print."""
    from adapters.delivery import DeliveryUnavailable
    from adapters.directory import DirectoryUnavailable
    from adapters.directory.at_rest import InvalidEncryptionKey
    from bot.keys import SecretKeyInvalid
    from bot.server_limits import ServerLimitsInvalid
    from bot.slack import SlackMisconfigured
    from bot.slack.manifest import PublicUrlInvalid
    from bot.teams.manifest import ManifestInvalid
    from bot.webchat.settings import WebChatMisconfigured
    from state import StoreMisconfigured, StoreUnavailable

    return (
        SecretKeyInvalid,
        InvalidEncryptionKey,
        DirectoryUnavailable,
        DeliveryUnavailable,
        StoreUnavailable,
        StoreMisconfigured,
        SlackMisconfigured,
        PublicUrlInvalid,
        ManifestInvalid,
        WebChatMisconfigured,
        ServerLimitsInvalid,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sspr-bot", description="Self-service password reset for Teams and Slack."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND", help="what to do")

    serve = commands.add_parser("serve", help="run the bot's HTTP endpoints")
    _config_option(serve)
    serve.add_argument(
        "--host", help="address to listen on (default: server.host, 127.0.0.1 unless configured)"
    )
    serve.add_argument(
        "--port",
        type=_port,
        help="port to listen on; 0 takes any free one (default: server.port, 3978 unless "
        "configured)",
    )
    serve.set_defaults(run=_serve)

    talk = commands.add_parser("chat", help="talk to the bot in this terminal")
    _config_option(talk)
    talk.add_argument("--user", help="act as this signed-in user (else the account is typed)")
    talk.set_defaults(run=_chat)

    config = commands.add_parser("config", help="check, describe or draw the configuration")
    config_commands = config.add_subparsers(required=True, metavar="ACTION", help="what to do")
    check = config_commands.add_parser("check", help="report every error in a config file")
    check.add_argument("file", type=Path, help="the YAML config file to check")
    check.set_defaults(run=_config_check)
    schema = config_commands.add_parser("schema", help="print the JSON Schema of the file")
    schema.set_defaults(run=_config_schema)
    graph = config_commands.add_parser("graph", help="draw the conversation state machine")
    graph.add_argument(
        "--output",
        type=Path,
        default=Path("sspr-conversation.mmd"),
        help="file to write, its format named by its ending: .mmd (Mermaid), .dot (Graphviz), "
        ".svg or .png (drawn with Graphviz's dot) (default: sspr-conversation.mmd)",
    )
    graph.set_defaults(run=_config_graph)

    slack = commands.add_parser("slack-manifest", help="write the Slack app manifest")
    _config_option(slack)
    slack.add_argument(
        "--public-url",
        help="the bot's public https base URL (default: server.public_url from the config)",
    )
    slack.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
    slack.set_defaults(run=_slack_manifest)

    teams = commands.add_parser("teams-manifest", help="write the Teams app package")
    _config_option(teams)
    teams.add_argument(
        "--output",
        type=Path,
        default=Path("teams-app"),
        help="folder for manifest.json, the icons and the zip to upload (default: teams-app)",
    )
    teams.add_argument(
        "--out", dest="output", type=Path, action=_OldSpelling, help=argparse.SUPPRESS
    )
    teams.set_defaults(run=_teams_manifest)

    directory = commands.add_parser("directory", help="work with the embedded directory")
    directory_commands = directory.add_subparsers(
        required=True, metavar="ACTION", help="what to do"
    )
    check_password = directory_commands.add_parser(
        "check-password", help="exit 0 if the password on stdin is USER's current one"
    )
    check_password.add_argument("user", help="the account name in the embedded directory")
    _config_option(check_password)
    check_password.set_defaults(run=_check_password)
    return parser


class _OldSpelling(argparse.Action):
    """A former name of an option: still accepted, with a note naming the current one."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        print(f"sspr-bot: {option_string} is now --{self.dest}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: 1 to 65535, or 0 for any")
    return port


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=None, help="YAML config file (default: embedded defaults)"
    )


def _settings(args: argparse.Namespace, *, interactive: bool = False) -> "Settings":
    """The settings, with logging set up (quieter and plain for a person at a terminal)."""
    from bot import logs
    from bot.config_file import load_settings

    settings = load_settings(args.config)
    if interactive:
        logs.configure("WARNING", "text")
    else:
        logs.configure(settings.logging.level, settings.logging.format)
    return settings


def _serve(args: argparse.Namespace) -> int:
    from adapters.addresses import is_loopback
    from bot.bot_framework import from_environment
    from bot.delivery import outbox_in_production
    from bot.webchat.routes import PAGE_PATH

    settings = _settings(args)
    host = settings.server.host if args.host is None else args.host
    port = settings.server.port if args.port is None else args.port
    development = from_environment(os.environ).development
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
        asyncio.run(_run_server(served, reservation))
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


async def _run_server(settings: "Settings", reservation: socket.socket) -> None:
    from bot.bot_framework import from_environment
    from bot.runtime import http_application
    from bot.server_limits import connection_limits, serving_with_limits

    host, port = settings.server.host, settings.server.port
    limits = connection_limits(settings.server)
    auth = from_environment(os.environ)
    runtime = await _started(settings)
    try:
        async with AsyncExitStack() as serving:
            app = http_application(runtime, auth)
            try:
                await serving.enter_async_context(serving_with_limits(app, host, port, limits))
            except OSError as error:
                raise CannotStart(_listen_problem(error, host, port)) from None
            reservation.close()
            shown = f"[{host}]" if ":" in host else host
            log.info("listening", extra={"url": f"http://{shown}:{port}/api/messages"})
            await asyncio.Event().wait()
    finally:
        await runtime.close()


async def _started(settings: "Settings") -> "Runtime":
    """The runtime, opened; a file or folder it cannot use stops start-up in one line."""
    from bot.runtime import start_runtime

    try:
        return await start_runtime(settings, console=sys.stdout)
    except OSError as error:
        if error.filename is None:
            raise CannotStart(str(error)) from None
        raise CannotStart(
            f"{error.filename}: {error.strerror} (data_dir is {settings.data_dir})"
        ) from None


def _chat(args: argparse.Namespace) -> int:
    settings = _settings(args, interactive=True)
    asyncio.run(_run_chat(settings, args.user))
    return 0


async def _run_chat(settings: "Settings", user: str | None) -> None:
    from bot.console import terminal_chat

    runtime = await _started(settings)
    try:
        await terminal_chat(runtime, user=user)
    finally:
        await runtime.close()


def _config_check(args: argparse.Namespace) -> int:
    from bot.config_file import config_warnings, load_settings

    settings = load_settings(args.file)
    for warning in config_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.file}: OK")
    return 0


def _config_schema(args: argparse.Namespace) -> int:
    from bot.settings import Settings

    print(json.dumps(Settings.model_json_schema(), indent=2))
    return 0


def _config_graph(args: argparse.Namespace) -> int:
    output: Path = args.output
    suffix = output.suffix.lower()
    if suffix == MERMAID:
        from dialogs.machine import mermaid_diagram

        content = (mermaid_diagram() + "\n").encode()
    elif suffix in DOT_SOURCE:
        content = _dot_source().encode()
    elif suffix in DRAWN:
        content = _drawn(output, suffix.removeprefix("."))
    else:
        endings = ", ".join([MERMAID, *DOT_SOURCE, *DRAWN])
        raise OperatorError(f"config graph --output {output}: the file must end with {endings}")
    output.write_bytes(content)
    print(f"wrote {output}")
    return 0


def _drawn(output: Path, image: str) -> bytes:
    """The machine drawn by Graphviz's `dot` as `image` (svg, png)."""
    dot = shutil.which("dot")
    if dot is None:
        raise OperatorError(
            f"config graph --output {output}: drawing {image.upper()} needs Graphviz's dot "
            f"(apt install graphviz); a .mmd or .dot file needs nothing"
        )
    drawn = subprocess.run(  # noqa: S603 (dot from PATH, our own graph on stdin)
        [dot, f"-T{image}"],
        input=_dot_source().encode(),
        capture_output=True,
        timeout=DOT_WAIT,
        check=False,
    )
    if drawn.returncode != 0:
        reason = drawn.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise OperatorError(f"config graph: Graphviz's dot failed: {' '.join(reason)}")
    return drawn.stdout


def _dot_source() -> str:
    """The conversation machine in Graphviz's DOT language: the states and transitions of
    the Mermaid diagram, each edge labelled with its triggers and their conditions."""
    from dialogs.machine import DIAGRAM_TITLE, ENDS, MACHINE_OPTIONS

    edges: dict[tuple[str, str], list[str]] = {}
    for transition in MACHINE_OPTIONS["transitions"]:
        sources = transition["source"]
        conditions = transition.get("conditions")
        label = transition["trigger"]
        if conditions:
            listed = [conditions] if isinstance(conditions, str) else conditions
            label += f" [{', '.join(listed)}]"
        for source in [sources] if isinstance(sources, str) else sources:
            edges.setdefault((source, transition["dest"]), []).append(label)
    lines = [
        "digraph conversation {",
        f"  label={_dot_text(DIAGRAM_TITLE)}; labelloc=t; rankdir=LR;",
        "  node [shape=box, style=rounded];",
        '  start [shape=point, label=""];',
        f"  start -> {_dot_text(MACHINE_OPTIONS['initial'])};",
    ]
    for state in MACHINE_OPTIONS["states"]:
        ending = " peripheries=2" if state in ENDS else ""
        lines.append(f"  {_dot_text(state)} [label={_dot_text(state)}{ending}];")
    for (source, dest), labels in edges.items():
        label = "\\n".join(_dot_text(text)[1:-1] for text in labels)
        lines.append(f'  {_dot_text(source)} -> {_dot_text(dest)} [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    """`text` as a quoted DOT string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _slack_manifest(args: argparse.Namespace) -> int:
    from bot.config_file import ConfigError
    from bot.slack.manifest import manifest_problems, slack_manifest

    settings = _settings(args, interactive=True)
    public_url = args.public_url or settings.server.public_url
    if public_url is None:
        raise OperatorError(
            "slack-manifest: give the bot's public https address with --public-url, or set "
            "server.public_url"
        )
    manifest = slack_manifest(settings.slack, public_url)
    problems = manifest_problems(manifest)
    if problems:
        raise ConfigError(problems)
    text = json.dumps(manifest, indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


def _teams_manifest(args: argparse.Namespace) -> int:
    from bot.bot_framework import from_environment
    from bot.config_file import ConfigError
    from bot.teams.manifest import write_teams_package

    settings = _settings(args, interactive=True)
    app_id = from_environment(os.environ).app_id
    if app_id is None:
        raise ConfigError(["MicrosoftAppId: set it to the Azure Bot's app id"])
    print(write_teams_package(settings.teams, app_id, args.output))
    return 0


def _check_password(args: argparse.Namespace) -> int:
    """A read-only check: it says which directory file it reads, and a missing one is an
    operator's mistake (another working folder, another config), never a reason to create
    the demo file and answer from the published passwords."""
    settings = _settings(args, interactive=True)
    if settings.directory.kind == "embedded":
        path = settings.local_path(settings.directory.embedded.path).absolute()
        if not path.exists():
            raise OperatorError(
                f"no directory file at {path}, and check-password creates none. Run it in "
                "the folder the bot runs in (data_dir, sspr-data by default, is taken from "
                "there), or pass --config with a config whose data_dir or "
                "directory.embedded.path names the file"
            )
        print(f"check-password: reading {path}", file=sys.stderr)
    password = sys.stdin.readline().rstrip("\n")
    return 0 if asyncio.run(_password_matches(settings, args.user, password)) else 1


async def _password_matches(settings: "Settings", user: str, password: str) -> bool:
    """Only the directory is opened: the check works while the bot and its store are down."""
    from adapters.directory.embedded import EmbeddedDirectory
    from bot.config_file import ConfigError
    from bot.runtime import open_directory

    directory = await open_directory(settings, os.environ)
    try:
        if not isinstance(directory, EmbeddedDirectory):
            kind = settings.directory.kind
            problem = f"directory.kind: check-password reads the embedded directory, not {kind}"
            raise ConfigError([problem])
        return await directory.check_password(user, password)
    finally:
        await directory.close()
