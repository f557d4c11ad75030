"""What counts as an operator's mistake: said in one line on stderr with exit code 2,
where anything else is a bug and keeps its traceback."""


class OperatorError(Exception):
    """Something the person running the command can fix: said in one line, exit code 2."""

    prefix = "sspr-bot"


class CannotStart(OperatorError):
    """The bot cannot start as configured (an address, a port, a file)."""

    prefix = "sspr-bot cannot start"


def operator_problems(error: Exception) -> list[str] | None:
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
    from adapters.tickets.settings import TicketConfigError
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
        TicketConfigError,
    )
