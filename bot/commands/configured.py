"""The settings a command runs with, read from its `--config` file."""

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings


def configured_settings(args: argparse.Namespace, *, interactive: bool = False) -> "Settings":
    """The settings, with logging set up (quieter and plain for a person at a terminal)."""
    from bot import logs
    from bot.config_file import load_settings

    settings = load_settings(args.config)
    if interactive:
        logs.configure("WARNING", "text")
    else:
        logs.configure(settings.logging.level, settings.logging.format)
    return settings
