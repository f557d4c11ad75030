"""The `sspr-bot` command."""

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

from adapters.addresses import is_loopback
from adapters.delivery import DeliveryUnavailable
from adapters.directory import DirectoryUnavailable
from adapters.directory.at_rest import InvalidEncryptionKey
from adapters.directory.embedded import EmbeddedDirectory
from bot import logs
from bot.agent import development_identity
from bot.bot_framework import from_environment
from bot.config_file import ConfigError, load_settings
from bot.console import chat
from bot.delivery import outbox_in_production
from bot.keys import SecretKeyInvalid
from bot.runtime import bot_framework_adapter, http_application, open_directory, start_runtime
from bot.server_limits import ServerLimitsInvalid, connection_limits, serving_with_limits
from bot.settings import Settings
from bot.slack import SlackMisconfigured
from bot.slack.manifest import PublicUrlInvalid, manifest_problems, slack_manifest
from bot.teams.manifest import write_teams_package
from bot.webchat.settings import WebChatMisconfigured
from dialogs.machine import mermaid_diagram
from state import StoreMisconfigured, StoreUnavailable

log = logging.getLogger("sspr-bot")

STARTUP_FAILURES = (
    SecretKeyInvalid,
    InvalidEncryptionKey,
    DirectoryUnavailable,
    DeliveryUnavailable,
    StoreUnavailable,
    StoreMisconfigured,
    SlackMisconfigured,
    PublicUrlInvalid,
    WebChatMisconfigured,
    ServerLimitsInvalid,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 2
    except STARTUP_FAILURES as error:
        print(f"sspr-bot cannot start: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sspr-bot", description="Self-service password reset for Teams and Slack."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the bot's HTTP endpoints")
    _config_option(serve)
    serve.add_argument("--host", help="listen address (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default from config: 3978)")
    serve.set_defaults(run=_serve)

    talk = commands.add_parser("chat", help="talk to the bot in this terminal")
    _config_option(talk)
    talk.add_argument("--user", help="act as this signed-in user (else the account is typed)")
    talk.set_defaults(run=_chat)

    config = commands.add_parser("config", help="check, describe or draw the configuration")
    config_commands = config.add_subparsers(required=True, metavar="ACTION")
    check = config_commands.add_parser("check", help="report every error in a config file")
    check.add_argument("file", type=Path)
    check.set_defaults(run=_config_check)
    schema = config_commands.add_parser("schema", help="print the JSON Schema of the file")
    schema.set_defaults(run=_config_schema)
    graph = config_commands.add_parser("graph", help="draw the conversation state machine")
    graph.add_argument("--output", type=Path, default=Path("sspr-conversation.mmd"))
    graph.set_defaults(run=_config_graph)

    slack = commands.add_parser("slack-manifest", help="write the Slack app manifest")
    _config_option(slack)
    slack.add_argument("--public-url", required=True, help="the bot's public https base URL")
    slack.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
    slack.set_defaults(run=_slack_manifest)

    teams = commands.add_parser("teams-manifest", help="write the Teams app package")
    _config_option(teams)
    teams.add_argument("--out", type=Path, default=Path("teams-app"), help="folder to write")
    teams.set_defaults(run=_teams_manifest)

    directory = commands.add_parser("directory", help="work with the embedded directory")
    directory_commands = directory.add_subparsers(required=True, metavar="ACTION")
    check_password = directory_commands.add_parser(
        "check-password", help="exit 0 if the password on stdin is USER's current one"
    )
    check_password.add_argument("user")
    _config_option(check_password)
    check_password.set_defaults(run=_check_password)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=None, help="YAML config file (default: embedded defaults)"
    )


def _settings(args: argparse.Namespace, *, interactive: bool = False) -> Settings:
    """The settings, with logging set up (quieter and plain for a person at a terminal)."""
    settings = load_settings(args.config)
    if interactive:
        logs.configure("WARNING", "text")
    else:
        logs.configure(settings.logging.level, settings.logging.format)
    return settings


def _serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    host = args.host or settings.server.host
    port = args.port or settings.server.port
    auth = from_environment(os.environ)
    if auth.development:
        if not is_loopback(host):
            log.error(
                "refusing to listen on a non-loopback address without MicrosoftAppId: "
                "development mode checks no tokens",
                extra={"host": host},
            )
            return 2
        log.warning(
            "DEVELOPMENT MODE: MicrosoftAppId is not set, so requests are NOT authenticated "
            "and the channel's user id is trusted as the username. Loopback only.",
            extra={"host": host, "port": port},
        )
    elif problem := outbox_in_production(settings.delivery):
        print(f"sspr-bot cannot start: {problem}", file=sys.stderr)
        return 2
    asyncio.run(_run_server(settings, host, port))
    return 0


async def _run_server(settings: Settings, host: str, port: int) -> None:
    limits = connection_limits(settings.server)
    auth = from_environment(os.environ)
    runtime = await start_runtime(settings, console=sys.stdout)
    try:
        async with serving_with_limits(http_application(runtime, auth), host, port, limits):
            log.info("listening", extra={"url": f"http://{host}:{port}/api/messages"})
            await asyncio.Event().wait()
    finally:
        await runtime.close()


def _chat(args: argparse.Namespace) -> int:
    settings = _settings(args, interactive=True)
    asyncio.run(_run_chat(settings, args.user))
    return 0


async def _run_chat(settings: Settings, user: str | None) -> None:
    runtime = await start_runtime(settings, console=sys.stdout)
    try:
        auth = from_environment({})
        identify = development_identity if user else (lambda activity: None)
        _, agent = bot_framework_adapter(runtime, auth, identify)
        await chat(agent, user=user)
    finally:
        await runtime.close()


def _config_check(args: argparse.Namespace) -> int:
    load_settings(args.file)
    print(f"{args.file}: OK")
    return 0


def _config_schema(args: argparse.Namespace) -> int:
    print(json.dumps(Settings.model_json_schema(), indent=2))
    return 0


def _config_graph(args: argparse.Namespace) -> int:
    output: Path = args.output
    output.write_text(mermaid_diagram() + "\n", encoding="utf-8")
    print(f"wrote {output}")
    if shutil.which("dot") is None or find_spec("graphviz") is None:
        print("No SVG/PNG: that needs Graphviz (apt-get install graphviz; pip install graphviz)")
        return 0
    from transitions.extensions import GraphMachine

    from dialogs.machine import DIAGRAM_TITLE, MACHINE_OPTIONS

    graph = GraphMachine(
        graph_engine="graphviz", title=DIAGRAM_TITLE, show_conditions=True, **MACHINE_OPTIONS
    )
    for suffix in ("svg", "png"):
        target = output.with_suffix(f".{suffix}")
        graph.get_graph().draw(str(target), format=suffix, prog="dot")
        print(f"wrote {target}")
    return 0


def _slack_manifest(args: argparse.Namespace) -> int:
    settings = _settings(args, interactive=True)
    manifest = slack_manifest(settings.slack, args.public_url)
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
    settings = _settings(args, interactive=True)
    app_id = from_environment(os.environ).app_id
    if app_id is None:
        raise ConfigError(["MicrosoftAppId: set it to the Azure Bot's app id"])
    print(write_teams_package(settings.teams, app_id, args.out))
    return 0


def _check_password(args: argparse.Namespace) -> int:
    settings = _settings(args, interactive=True)
    password = sys.stdin.readline().rstrip("\n")
    return 0 if asyncio.run(_password_matches(settings, args.user, password)) else 1


async def _password_matches(settings: Settings, user: str, password: str) -> bool:
    """Only the directory is opened: the check works while the bot and its store are down."""
    directory = await open_directory(settings, os.environ)
    try:
        if not isinstance(directory, EmbeddedDirectory):
            kind = settings.directory.kind
            problem = f"directory.kind: check-password reads the embedded directory, not {kind}"
            raise ConfigError([problem])
        return await directory.check_password(user, password)
    finally:
        await directory.close()
