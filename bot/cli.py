"""The `sspr-bot` command.

Only the standard library is imported up front; each command imports what it needs when
it runs, so `sspr-bot --help` (or a typo) answers at once instead of after loading the
Agents SDK, aiohttp and the directory clients. This module reads the command line; the
commands themselves are in `bot.commands`.

An operator's mistake (a busy port, a missing file, an address that is not this machine's)
is one line on stderr and exit code 2; a traceback means a bug.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.commands.audit import search_audit, tail_audit
from bot.commands.chat import chat_in_terminal
from bot.commands.config import check_config, print_schema
from bot.commands.directory import check_password as check_directory_password
from bot.commands.enrolment import METHODS as ENROLMENT_METHODS
from bot.commands.enrolment import enrolment_status, remove_enrolment
from bot.commands.errors import operator_problems
from bot.commands.graph import draw_graph
from bot.commands.helpdesk import clear_lockout, send_handoff, user_status
from bot.commands.impact import config_impact
from bot.commands.manifests import write_slack_manifest, write_teams_manifest
from bot.commands.password import check_new_password
from bot.commands.report import print_report
from bot.commands.serve import serve_bot


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        problems = operator_problems(error)
        if problems is None:
            raise
        for problem in problems:
            print(problem, file=sys.stderr)
        return 2


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
    serve.set_defaults(run=serve_bot)

    talk = commands.add_parser("chat", help="talk to the bot in this terminal")
    _config_option(talk)
    talk.add_argument("--user", help="act as this signed-in user (else the account is typed)")
    talk.set_defaults(run=chat_in_terminal)

    config = commands.add_parser("config", help="check, describe or draw the configuration")
    config_commands = config.add_subparsers(required=True, metavar="ACTION", help="what to do")
    check = config_commands.add_parser("check", help="report every error in a config file")
    check.add_argument("file", type=Path, help="the YAML config file to check")
    check.set_defaults(run=check_config)
    schema = config_commands.add_parser("schema", help="print the JSON Schema of the file")
    schema.set_defaults(run=print_schema)
    impact = config_commands.add_parser(
        "impact", help="who would gain or lose the reset under NEW, by group; read-only"
    )
    impact.add_argument("file", type=Path, metavar="NEW", help="the proposed YAML config file")
    impact.add_argument("--json", action="store_true", help="print one JSON object")
    _config_option(impact)
    impact.set_defaults(run=config_impact)
    graph = config_commands.add_parser("graph", help="draw the conversation state machine")
    graph.add_argument(
        "--output",
        type=Path,
        default=Path("sspr-conversation.mmd"),
        help="file to write, its format named by its ending: .mmd (Mermaid), .dot (Graphviz), "
        ".svg or .png (drawn with Graphviz's dot) (default: sspr-conversation.mmd)",
    )
    graph.set_defaults(run=draw_graph)

    slack = commands.add_parser("slack-manifest", help="write the Slack app manifest")
    _config_option(slack)
    slack.add_argument(
        "--public-url",
        help="the bot's public https base URL (default: server.public_url from the config)",
    )
    slack.add_argument("--output", type=Path, default=None, help="file (default: stdout)")
    slack.set_defaults(run=write_slack_manifest)

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
    teams.set_defaults(run=write_teams_manifest)

    directory = commands.add_parser("directory", help="work with the embedded directory")
    directory_commands = directory.add_subparsers(
        required=True, metavar="ACTION", help="what to do"
    )
    check_password = directory_commands.add_parser(
        "check-password", help="exit 0 if the password on stdin is USER's current one"
    )
    check_password.add_argument("user", help="the account name in the embedded directory")
    _config_option(check_password)
    check_password.set_defaults(run=check_directory_password)

    password = commands.add_parser("password", help="the bot's rules for new passwords")
    password_commands = password.add_subparsers(required=True, metavar="ACTION", help="what to do")
    password_check = password_commands.add_parser(
        "check",
        help="exit 0 if the bot would accept the password on stdin for USER, else 1 and why",
    )
    password_check.add_argument(
        "--user", required=True, help="the account, for its names: username, email or object id"
    )
    _config_option(password_check)
    password_check.set_defaults(run=check_new_password)

    enrolment = commands.add_parser("enrolment", help="the methods people registered in chat")
    enrolment_commands = enrolment.add_subparsers(
        required=True, metavar="ACTION", help="what to do"
    )
    remove = enrolment_commands.add_parser(
        "remove", help="forget USER's registered METHOD (all of them without one), audited"
    )
    remove.add_argument("user", help="the account: username, email or object id")
    remove.add_argument("method", nargs="?", choices=ENROLMENT_METHODS, help="only this one")
    remove.add_argument("--by", help="who asks, for the audit trail (default: your login name)")
    _config_option(remove)
    remove.set_defaults(run=remove_enrolment)
    status = enrolment_commands.add_parser(
        "status", help="count who in reset scope can reset, with how many methods; read-only"
    )
    status.add_argument("--json", action="store_true", help="print one JSON object")
    _config_option(status)
    status.set_defaults(run=enrolment_status)

    lockout = commands.add_parser("lockout", help="the bot's lock on a person's reset flow")
    lockout_commands = lockout.add_subparsers(required=True, metavar="ACTION", help="what to do")
    clear = lockout_commands.add_parser(
        "clear", help="lift USER's reset lock and forget their failures, audited"
    )
    clear.add_argument("user", help="the account: username, email or object id")
    clear.add_argument("--by", help="who asks, for the audit trail (default: your login name)")
    _config_option(clear)
    clear.set_defaults(run=clear_lockout)

    user = commands.add_parser("user", help="one person's account as the bot sees it")
    user_commands = user.add_subparsers(required=True, metavar="ACTION", help="what to do")
    user_state = user_commands.add_parser(
        "status", help="USER's scope, methods, lock and failures; read-only, no secrets"
    )
    user_state.add_argument("user", help="the account: username, email or object id")
    user_state.add_argument("--json", action="store_true", help="print one JSON object")
    _config_option(user_state)
    user_state.set_defaults(run=user_status)

    handoff = commands.add_parser(
        "handoff", help="hand USER's ticket to the bot, signed with SSPR_HANDOFF_SECRET"
    )
    handoff.add_argument("user", help="the account: username, email or object id")
    handoff.add_argument("--ticket", required=True, help="the ticket's number")
    handoff.add_argument(
        "--url", help="the bot's hand-off address (default: server.base_url + /api/handoff)"
    )
    handoff.add_argument("--locale", help="the language to offer the reset in (e.g. de)")
    _config_option(handoff)
    handoff.set_defaults(run=send_handoff)

    audit = commands.add_parser("audit", help="read the audit trail (Redis stream, else file)")
    audit_commands = audit.add_subparsers(required=True, metavar="ACTION", help="what to do")
    tail = audit_commands.add_parser("tail", help="print the newest events; -f: and those to come")
    tail.add_argument("-n", dest="lines", type=int, default=20, help="how many (default: 20)")
    tail.add_argument("-f", "--follow", action="store_true", help="keep printing new events")
    tail.add_argument("--json", action="store_true", help="one JSON object per event")
    _config_option(tail)
    tail.set_defaults(run=tail_audit)
    search = audit_commands.add_parser(
        "search", help="USER's events (exit 1 when there are none); read-only"
    )
    search.add_argument(
        "--user",
        required=True,
        help="an account id, username or email (through the directory), or a requester id",
    )
    search.add_argument("--since", help="only this recent: 7d, 12h, 30m, or a date (default: all)")
    search.add_argument("--json", action="store_true", help="one JSON object per event")
    _config_option(search)
    search.set_defaults(run=search_audit)

    report = commands.add_parser(
        "report", help="usage and insights from the audit trail: resets, drop-outs, savings"
    )
    report.add_argument(
        "--since", default="30d", help="the period: 30d, 12h, 90m, or a date (default: 30d)"
    )
    report.add_argument("--json", action="store_true", help="print one JSON document")
    report.add_argument(
        "--html", type=Path, metavar="FILE", help="also write the report page (SVG charts) to FILE"
    )
    _config_option(report)
    report.set_defaults(run=print_report)
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
