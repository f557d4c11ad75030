"""Data files that ship with the bot: example configuration, demo directory, messages."""
