"""The usage report over the configured audit trail, read where `sspr-bot audit` reads it:
the Redis stream every instance shares when Redis is the store and the stream is a sink,
else the JSON-lines file. Reading changes nothing and is not itself audited."""

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from bot.report.usage import Usage, count_usage

if TYPE_CHECKING:
    from bot.settings import Settings


class TrailUnreadable(Exception):
    """The trail cannot be read as configured (stdout only, or the stream failed); the
    message says which and is safe to show an admin."""


async def usage_from_trail(
    settings: "Settings", environ: Mapping[str, str], *, since: datetime, until: datetime
) -> Usage:
    """The report of what the configured trail recorded from `since` to `until`."""
    lines = await _lines_since(settings, environ, since)
    return count_usage(
        lines,
        since=since,
        until=until,
        cost_per_ticket=settings.report.cost_per_ticket,
        currency=settings.report.currency,
    )


async def _lines_since(
    settings: "Settings", environ: Mapping[str, str], since: datetime
) -> list[str]:
    from adapters.audit import JsonlReader
    from bot.audit_streams import configured_stream
    from state.redis_clients import ERRORS

    section = settings.audit
    at = since.timestamp()
    if "stream" not in section.sinks or settings.state.backend != "redis":
        if "file" not in section.sinks:
            raise TrailUnreadable(
                "the trail goes to stdout only (audit.sinks); report from where your log "
                "collector keeps it"
            )
        return [line async for line in JsonlReader(settings.local_path(section.path)).since(at)]
    stream = configured_stream(settings, environ)
    try:
        return [line async for line in stream.since(at)]
    except ERRORS as error:
        raise TrailUnreadable(
            f"cannot read the stream {section.stream}: {type(error).__name__}: {error}"
        ) from None
    finally:
        await stream.close()
