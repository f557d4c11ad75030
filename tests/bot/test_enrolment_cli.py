"""`sspr-bot enrolment status` on the demo directory, run in-process through `bot.cli.main`:
counts of who in reset scope can reset and with how many methods, changed by what was
registered in chat, with no name and no secret printed and nothing written."""

import asyncio
import contextlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import yaml

from bot.cli import main
from bot.runtime import start_runtime
from bot.settings import Settings
from state import FrozenClock

SECRET = pyotp.random_base32()
DAY = 86400.0
DEMO_NAMES = ("alice", "adele", "bob", "dave", "olivia", "contoso.com")


@pytest.fixture(autouse=True)
def command_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No `SSPR_*` variable from the test run reaches the command, and the logging it sets
    up for a person at a terminal is undone afterwards."""
    for name in [name for name in os.environ if name.startswith("SSPR_")]:
        monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def configured(tmp_path: Path, **sections: Any) -> Path:
    config = tmp_path / "sspr.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), **sections}))
    return config


def settings_of(config: Path) -> Settings:
    return Settings.model_validate(yaml.safe_load(config.read_text()))


async def register_authenticator(config: Path, name: str, *, at: float | None = None) -> None:
    """`name` registers an authenticator app in chat, now or at the time `at`."""
    clock = FrozenClock(at) if at is not None else None
    runtime = await start_runtime(settings_of(config), secrets={}, clock=clock)
    try:
        account = await runtime.directory.find(name)
        assert account is not None
        await runtime.registry.add_authenticator(account.id, SECRET)
    finally:
        await runtime.close()


def days_ago(days: int) -> float:
    return time.time() - days * DAY


def status(config: Path, capsys: pytest.CaptureFixture[str], *options: str) -> str:
    capsys.readouterr()
    assert main(["enrolment", "status", "--config", str(config), *options]) == 0
    printed = capsys.readouterr()
    for text in (printed.out, printed.err):
        assert SECRET not in text
    return printed.out


def status_json(config: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(status(config, capsys, "--json"))
    return found


def test_the_counts_say_who_in_scope_could_reset_and_name_no_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = configured(tmp_path)

    before = status(config, capsys)
    asyncio.run(register_authenticator(config, "bob"))
    after = status(config, capsys)

    # alice, adele and bob are in sspr-users (dave is disabled, olivia outside the scope)
    assert before.splitlines() == [
        "accounts in reset scope: 3",
        "  with no method to reset with: 0",
        "  with 1 method: 0",
        "  with 2 or more: 3",
        "can reset now (1 required, administrators 2): 3",
        "due to confirm their methods again: never asked (enrolment.reconfirm_days 0)",
        "with each method:",
        "  authenticator: 2",
        "  sms: 3",
        "  voice: 3",
        "  email: 3",
        "  questions: 1",  # alice's: adele is an admin, never asked questions
    ]
    assert "  authenticator: 3" in after.splitlines()
    for name in DEMO_NAMES:
        assert name not in before + after


def test_json_counts_follow_the_required_checks_and_a_registration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = configured(
        tmp_path, verification={"methods": ["email", "authenticator", "questions"], "required": 2}
    )

    before = status_json(config, capsys)
    asyncio.run(register_authenticator(config, "bob"))
    after = status_json(config, capsys)

    assert before == {
        "accounts": 3,
        "with_methods": {"0": 0, "1": 1, "2+": 2},  # bob has only his mailbox
        "can_reset": 2,
        "required": 2,
        "admin_required": 2,
        "stale": 0,
        "reconfirm_days": 0,
        "by_method": {"email": 3, "authenticator": 2, "questions": 1},
    }
    assert after["with_methods"] == {"0": 0, "1": 0, "2+": 3}
    assert after["can_reset"] == 3
    assert after["by_method"] == {"email": 3, "authenticator": 3, "questions": 1}


def test_an_admin_with_one_method_and_an_account_with_none_cannot_reset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = configured(tmp_path, verification={"methods": ["authenticator", "questions"]})

    counts = status_json(config, capsys)

    # bob has no app and no questions; adele only her app (an admin is never asked
    # questions and needs two checks); alice both
    assert counts["with_methods"] == {"0": 1, "1": 1, "2+": 1}
    assert counts["can_reset"] == 1
    assert counts["by_method"] == {"authenticator": 2, "questions": 1}


def test_methods_confirmed_longer_ago_than_the_interval_are_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = configured(tmp_path, enrolment={"reconfirm_days": 30})
    asyncio.run(register_authenticator(config, "alice", at=days_ago(40)))
    asyncio.run(register_authenticator(config, "bob", at=days_ago(10)))

    counts = status_json(config, capsys)
    text = status(config, capsys)

    assert (counts["stale"], counts["reconfirm_days"]) == (2, 30)  # alice, and adele: never
    assert "due to confirm their methods again (every 30 days): 2" in text.splitlines()


def test_status_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = configured(tmp_path, enrolment={"reconfirm_days": 30})
    asyncio.run(register_authenticator(config, "bob", at=days_ago(40)))
    audit = tmp_path / "data" / "audit.jsonl"
    audited = audit.read_text() if audit.exists() else ""
    stored = store_dump(tmp_path)

    status(config, capsys)

    assert (audit.read_text() if audit.exists() else "") == audited
    assert store_dump(tmp_path) == stored
    assert status_json(config, capsys)["stale"] == 3  # bob was not confirmed by the count


def store_dump(tmp_path: Path) -> list[str]:
    """Everything in the bot's SQLite store (the default), as SQL."""
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "state.sqlite3")) as db:
        return list(db.iterdump())
