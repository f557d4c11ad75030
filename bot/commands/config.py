"""`sspr-bot config check` and `config schema`: a config file's errors, and its format."""

import argparse
import json
import sys


def check_config(args: argparse.Namespace) -> int:
    from bot.config_file import config_warnings, load_settings

    settings = load_settings(args.file)
    for warning in config_warnings(settings):
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{args.file}: OK")
    return 0


def print_schema(args: argparse.Namespace) -> int:
    from bot.settings import Settings

    print(json.dumps(Settings.model_json_schema(), indent=2))
    return 0
