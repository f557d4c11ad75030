"""`sspr-bot slack-manifest` and `teams-manifest`: what an admin uploads to install the
bot in Slack or Teams, made from the same config the bot runs with."""

import argparse
import json
import sys

from bot.commands.configured import configured_settings
from bot.commands.errors import OperatorError


def write_slack_manifest(args: argparse.Namespace) -> int:
    from bot.config_file import ConfigError
    from bot.slack.manifest import manifest_problems, slack_manifest

    settings = configured_settings(args, interactive=True)
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


def write_teams_manifest(args: argparse.Namespace) -> int:
    from bot.botframework.credentials import from_environment
    from bot.config_file import ConfigError
    from bot.secrets import Secrets
    from bot.teams.manifest import write_teams_package

    settings = configured_settings(args, interactive=True)
    app_id = from_environment(Secrets.from_environment()).app_id
    if app_id is None:
        raise ConfigError(["MicrosoftAppId: set it to the Azure Bot's app id"])
    print(write_teams_package(settings.teams, app_id, args.output))
    return 0
