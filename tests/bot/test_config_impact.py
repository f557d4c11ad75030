"""`sspr-bot config impact` on the demo directory, run in-process through `bot.cli.main`:
who a proposed config strands or lets in, by group, with nothing written."""

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
import yaml

from bot.cli import main
from bot.config_file import load_settings
from bot.runtime import start_runtime

# The demo accounts in reset scope: alice (sales, inside sspr-users: a mobile and an office
# phone, the app), adele (an administrator: always two checks) and bob (a mobile phone
# only, once email is not a method). Olivia is outside the scope, dave is disabled.
PHONES_AND_APP = {"methods": ["sms", "voice", "authenticator", "questions"]}


@pytest.fixture(autouse=True)
def command_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No `SSPR_*` variable reaches the command, and its terminal logging is undone."""
    for name in [name for name in os.environ if name.startswith("SSPR_")]:
        monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def configured(path: Path, **sections: Any) -> Path:
    path.write_text(yaml.safe_dump({"data_dir": str(path.parent / "data"), **sections}))
    return path


def impact(proposed: Path, current: Path, capsys: pytest.CaptureFixture[str], *options: str) -> str:
    capsys.readouterr()
    assert main(["config", "impact", str(proposed), "--config", str(current), *options]) == 0
    return capsys.readouterr().out


def impact_json(proposed: Path, current: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(impact(proposed, current, capsys, "--json"))


def test_two_required_checks_strand_those_with_one_method_and_list_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = configured(tmp_path / "current.yaml", verification={**PHONES_AND_APP, "required": 1})
    proposed = configured(tmp_path / "new.yaml", verification={**PHONES_AND_APP, "required": 2})

    printed = impact(proposed, current, capsys)

    assert printed.splitlines() == [
        "accounts in the directory: 4",
        "can reset now: 3; with the proposed config: 2",
        "gain the ability to reset: 0",
        "lose it: 1",
        "by group (current -> proposed):",
        "  it-admins: 1 -> 1 (gain 0, lose 0)",
        "  marketing: 0 -> 0 (gain 0, lose 0)",
        "  sales: 1 -> 1 (gain 0, lose 0)",
        "  sspr-users: 2 -> 1 (gain 0, lose 1)",
        "lose:",
        "  bob (sspr-users): can prove 1 of the 2 different checks required",
    ]


def test_json_names_who_gains_and_who_loses_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = configured(tmp_path / "current.yaml")
    proposed = configured(
        tmp_path / "new.yaml",
        access={"groups": ["sales", "marketing"]},
        verification={"methods": ["email", "sms", "questions"], "required": 1},
    )

    found = impact_json(proposed, current, capsys)

    assert found == {
        "accounts": 4,
        "can_reset": {"current": 3, "proposed": 2},
        "gain": ["olivia"],
        "lose": [
            {
                "username": "adele",
                "groups": ["it-admins", "sspr-users"],
                "reason": "scope",
                "detail": "outside who may reset (access)",
            },
            {
                "username": "bob",
                "groups": ["sspr-users"],
                "reason": "scope",
                "detail": "outside who may reset (access)",
            },
        ],
        "by_group": {
            "it-admins": {"current": 1, "proposed": 0, "gain": 0, "lose": 1},
            "marketing": {"current": 0, "proposed": 1, "gain": 1, "lose": 0},
            "sales": {"current": 1, "proposed": 1, "gain": 0, "lose": 0},
            "sspr-users": {"current": 2, "proposed": 0, "gain": 0, "lose": 2},
        },
    }


def test_nothing_is_written_to_the_directory_the_registry_or_the_trail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = configured(tmp_path / "current.yaml", verification={**PHONES_AND_APP, "required": 1})
    proposed = configured(tmp_path / "new.yaml", verification={**PHONES_AND_APP, "required": 2})
    impact(proposed, current, capsys)  # the first run seeds the demo directory
    before = snapshot(tmp_path / "data")

    impact(proposed, current, capsys)
    impact_json(proposed, current, capsys)

    assert snapshot(tmp_path / "data") == before
    assert not (tmp_path / "data" / "audit.jsonl").exists()


def snapshot(data: Path) -> dict[str, Any]:
    """Every file's digest, and the SQLite store's rows (its file may be rewritten alike)."""
    with contextlib.closing(sqlite3.connect(data / "state.sqlite3")) as db:
        rows = list(db.iterdump())
    files = {
        str(path.relative_to(data)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(data.rglob("*"))
        if path.is_file() and not path.name.startswith("state.sqlite3")
    }
    return {"files": files, "store": rows}


def test_a_method_registered_in_chat_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = configured(tmp_path / "current.yaml", verification={**PHONES_AND_APP, "required": 1})
    proposed = configured(tmp_path / "new.yaml", verification={**PHONES_AND_APP, "required": 2})
    asyncio.run(register_authenticator(current, "bob"))

    assert impact_json(proposed, current, capsys)["lose"] == []


async def register_authenticator(config: Path, name: str) -> None:
    runtime = await start_runtime(load_settings(config), secrets={})
    try:
        account = await runtime.directory.find(name)
        assert account is not None
        await runtime.registry.add_authenticator(account.id, pyotp.random_base32())
    finally:
        await runtime.close()
