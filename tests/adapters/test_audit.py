"""The JSON-lines audit trail: append-only, private, and it refuses secret-looking fields."""

import asyncio
import json
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.audit.jsonl import AuditSettings, JsonlAudit


async def test_events_are_appended_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    audit = JsonlAudit(path)
    await audit.record("challenge_failed", account="alice", method="email", failures=2)
    await audit.record("reset_done", account="alice", must_change=True, ticket=None)
    await audit.close()
    await JsonlAudit(path).record("reset_started", account="bob")

    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [event["event"] for event in events] == [
        "challenge_failed",
        "reset_done",
        "reset_started",
    ]
    assert events[0] == {
        "at": events[0]["at"],
        "event": "challenge_failed",
        "account": "alice",
        "method": "email",
        "failures": 2,
    }
    assert events[1]["must_change"] is True
    assert events[1]["ticket"] is None
    assert datetime.fromisoformat(events[0]["at"]).utcoffset() == timedelta(0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_events_recorded_at_once_are_all_written_whole_in_order(tmp_path: Path) -> None:
    """Many conversations' events at once: each line whole, in the order recorded, and
    every `record` returns once its own event is in the file."""
    path = tmp_path / "audit.jsonl"
    audit = JsonlAudit(path)

    async def record(number: int) -> int:
        await audit.record("turn", number=number)
        lines = path.read_text(encoding="utf-8").splitlines()
        return sum(json.loads(line)["number"] == number for line in lines)

    found = await asyncio.gather(*(record(number) for number in range(200)))
    await audit.close()

    assert found == [1] * 200
    numbers = [json.loads(line)["number"] for line in path.read_text().splitlines()]
    assert numbers == list(range(200))


async def test_an_event_that_cannot_be_written_fails_its_record(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    audit = JsonlAudit(tmp_path / "not-a-folder" / "audit.jsonl")
    results = await asyncio.gather(
        *(audit.record("turn", number=number) for number in range(3)), return_exceptions=True
    )
    await audit.close()
    assert [type(result) for result in results] == [FileExistsError] * 3


@pytest.mark.parametrize(
    "field",
    [
        "code",
        "password",
        "new_password",
        "newPassword",
        "answer",
        "answers",
        "totp_secret",
        "token",
        "access-token",
        "status_code",
        "at",
    ],
)
async def test_secret_looking_field_names_are_refused(tmp_path: Path, field: str) -> None:
    path = tmp_path / "audit.jsonl"
    audit = JsonlAudit(path)
    with pytest.raises(ValueError, match="field names refused"):
        await audit.record("reset_done", account="alice", **{field: "value"})
    await audit.close()
    assert not path.exists()


async def test_ordinary_field_names_pass(tmp_path: Path) -> None:
    audit = JsonlAudit(tmp_path / "audit.jsonl")
    await audit.record("code_sent", account="alice", method="sms", channel="teams", session="s1")
    await audit.close()


def test_settings() -> None:
    assert AuditSettings().path == "audit.jsonl"
    with pytest.raises(ValueError, match="extra"):
        AuditSettings.model_validate({"path": "a", "level": "debug"})
    assert all(field.description for field in AuditSettings.model_fields.values())
