"""The audit trail's Redis stream as the config names it: one place for the bot that
writes it and the commands that read it (`audit`, `report`)."""

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings
    from state.audit_stream import AuditStream


def configured_stream(settings: "Settings", environ: Mapping[str, str]) -> "AuditStream":
    """The stream `audit.stream` on the store's Redis, on a client of its own."""
    from state.audit_stream import open_audit_stream

    section = settings.audit
    return open_audit_stream(
        settings.state,
        environ=environ,
        data_dir=Path(settings.data_dir),
        key=section.stream,
        max_length=section.stream_max_length,
    )
