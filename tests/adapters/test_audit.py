"""The audit trail: append-only JSON lines to each sink, private files, secret-looking
fields refused, and a sink that fails never failing the event's turn."""

import asyncio
import io
import json
import logging
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.audit import AuditSettings, AuditTrail, JsonlFile, JsonlReader, StdoutLines


def trail(path: Path) -> AuditTrail:
    return AuditTrail([JsonlFile(path)])


async def test_events_are_appended_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "audit.jsonl"
    audit = trail(path)
    await audit.record("challenge_failed", account="alice", method="email", failures=2)
    await audit.record("reset_done", account="alice", must_change=True, ticket=None)
    await audit.close()
    await trail(path).record("reset_started", account="bob")

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
    audit = trail(path)

    async def record(number: int) -> int:
        await audit.record("turn", number=number)
        lines = path.read_text(encoding="utf-8").splitlines()
        return sum(json.loads(line)["number"] == number for line in lines)

    found = await asyncio.gather(*(record(number) for number in range(200)))
    await audit.close()

    assert found == [1] * 200
    numbers = [json.loads(line)["number"] for line in path.read_text().splitlines()]
    assert numbers == list(range(200))


async def test_a_sink_that_fails_is_logged_once_and_the_others_still_get_the_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "not-a-folder").write_text("")
    out = io.StringIO()
    audit = AuditTrail([JsonlFile(tmp_path / "not-a-folder" / "audit.jsonl"), StdoutLines(out)])
    with caplog.at_level(logging.ERROR, logger="adapters.audit.trail"):
        for number in range(3):
            await audit.record("turn", number=number)
    await audit.close()

    assert [json.loads(line)["number"] for line in out.getvalue().splitlines()] == [0, 1, 2]
    failures = [
        r for r in caplog.records if r.getMessage() == "audit events are not reaching a sink"
    ]
    assert len(failures) == 1
    assert failures[0].sink == "file"  # type: ignore[attr-defined]


async def test_stdout_gets_one_json_line_per_event() -> None:
    out = io.StringIO()
    audit = AuditTrail([StdoutLines(out)])
    await audit.record("reset.started", account="alice", channel="msteams")
    [line] = out.getvalue().splitlines()
    assert json.loads(line)["channel"] == "msteams"


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
    out = io.StringIO()
    audit = AuditTrail([JsonlFile(path), StdoutLines(out)])
    with pytest.raises(ValueError, match="field names refused"):
        await audit.record("reset_done", account="alice", **{field: "value"})
    await audit.close()
    assert not path.exists()
    assert out.getvalue() == ""


async def test_ordinary_field_names_pass(tmp_path: Path) -> None:
    audit = trail(tmp_path / "audit.jsonl")
    await audit.record(
        "code.sent",
        account="alice",
        method="sms",
        channel="teams",
        correlation_id="s1",
        requester="29:1abc",
        outcome="sent",
        message_id="SM1",
    )
    await audit.close()


async def test_the_file_reads_back_newest_since_and_following(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = trail(path)
    for number in range(5):
        await audit.record("turn", number=number)
    reader = JsonlReader(path)
    assert [json.loads(line)["number"] for line in await reader.last(2)] == [3, 4]
    later = datetime.now(UTC) + timedelta(hours=1)
    assert [line async for line in reader.since(later.timestamp())] == []
    assert len([line async for line in reader.since(None)]) == 5
    await audit.record("turn", number=5)
    following = reader.follow()
    assert json.loads(await anext(following))["number"] == 5
    await following.aclose()
    await audit.close()


def test_settings() -> None:
    settings = AuditSettings()
    assert settings.path == "audit.jsonl"
    assert settings.sinks == ("file", "stream")
    assert settings.stream == "sspr:audit"
    assert settings.stream_max_length == 1_000_000
    with pytest.raises(ValueError, match="extra"):
        AuditSettings.model_validate({"path": "a", "level": "debug"})
    with pytest.raises(ValueError, match="once"):
        AuditSettings.model_validate({"sinks": ["file", "file"]})
    with pytest.raises(ValueError, match="sinks"):
        AuditSettings.model_validate({"sinks": ["syslog"]})
    with pytest.raises(ValueError, match="stream_max_length"):
        AuditSettings.model_validate({"stream_max_length": 10})
    assert all(field.description for field in AuditSettings.model_fields.values())
