"""The development outbox: one JSON line per message, echoed to the console."""

import asyncio
import io
import json
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.delivery import DeliveryFailed, Message
from adapters.delivery.outbox import OutboxSender, OutboxSettings


async def test_each_message_is_one_json_line_and_a_console_line(tmp_path: Path) -> None:
    path = tmp_path / "data" / "outbox.jsonl"
    console = io.StringIO()
    outbox = OutboxSender(path, console)
    await outbox.send(Message("email", "alice@contoso.com", "Your reset code", "Code: 123456\n"))
    await outbox.send(Message("sms", "+1 425 555 0101", "", "Your code is 654321"))
    await outbox.close()

    lines = path.read_text(encoding="utf-8").splitlines()
    first, second = (json.loads(line) for line in lines)
    assert list(first) == ["id", "at", "medium", "to", "subject", "body", "locale"]
    assert first["medium"] == "email"
    assert first["to"] == "alice@contoso.com"
    assert first["subject"] == "Your reset code"
    assert first["body"] == "Code: 123456\n"
    sent_at = datetime.fromisoformat(first["at"])
    assert sent_at.utcoffset() == timedelta(0)
    assert second["medium"] == "sms"
    assert second["body"] == "Your code is 654321"

    assert console.getvalue().splitlines() == [
        "[outbox] email to alice@contoso.com (Your reset code): Code: 123456",
        "[outbox] sms to +1 425 555 0101: Your code is 654321",
    ]


async def test_the_file_is_private_and_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    for body in ("one", "two"):
        await OutboxSender(path, console=None).send(Message("voice", "+1 425 555 0101", "", body))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [json.loads(line)["body"] for line in path.read_text().splitlines()] == ["one", "two"]


async def test_concurrent_sends_never_mix_lines(tmp_path: Path) -> None:
    path = tmp_path / "outbox.jsonl"
    outbox = OutboxSender(path, console=None)
    await asyncio.gather(
        *(outbox.send(Message("sms", f"+1 425 555 {n:04}", "", "x" * 5000)) for n in range(20))
    )
    lines = path.read_text().splitlines()
    assert sorted(json.loads(line)["to"] for line in lines) == [
        f"+1 425 555 {n:04}" for n in range(20)
    ]


async def test_an_unwritable_outbox_fails_delivery(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    outbox = OutboxSender(blocker / "outbox.jsonl", console=None)
    with pytest.raises(DeliveryFailed):
        await outbox.send(Message("email", "alice@contoso.com", "s", "b"))


def test_settings() -> None:
    settings = OutboxSettings()
    assert (settings.path, settings.console) == ("outbox.jsonl", True)
    with pytest.raises(ValueError, match="extra"):
        OutboxSettings.model_validate({"file": "x"})
    assert all(field.description for field in OutboxSettings.model_fields.values())
