"""The `sspr-bot` commands, one module each; `bot.cli` parses the line and runs them.

Each module imports only the standard library up front and the rest when its command runs,
so parsing a command line loads none of the bot.
"""
