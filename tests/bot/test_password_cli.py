"""`sspr-bot password check --user USER`, run as the installed command on the demo
directory: exit 0 for a password the bot would accept, 1 with the reason on stderr, 2 for
an operator's mistake; the password itself is never printed."""

import asyncio
import shutil
import subprocess
from pathlib import Path

import yaml

from dialogs.catalog import Catalog
from tests.stand_ins.pwned import pwned_stand_in
from tests.support.commands import sspr_bot
from tests.support.paths import DEMO_DIRECTORY

ACCEPTED = "Correct horse battery staple 42"


def bot_folder(tmp_path: Path, **config: object) -> Path:
    """A folder the bot runs in: the demo directory in sspr-data, and `config` in sspr.yaml."""
    (tmp_path / "sspr-data").mkdir()
    shutil.copyfile(DEMO_DIRECTORY, tmp_path / "sspr-data" / "directory.yaml")
    (tmp_path / "sspr.yaml").write_text(yaml.safe_dump(config))
    return tmp_path


def check(folder: Path, password: str, user: str = "alice") -> subprocess.CompletedProcess[str]:
    return sspr_bot(
        folder, "password", "check", "--user", user, "--config", "sspr.yaml", stdin=f"{password}\n"
    )


def english(message: str, **values: object) -> str:
    return Catalog().text(message, "en", **values)


def said(result: subprocess.CompletedProcess[str]) -> tuple[int, str]:
    """The exit code and the last line on stderr (a warning about the published demo key
    may come first)."""
    lines = result.stderr.splitlines()
    return result.returncode, lines[-1] if lines else ""


def never_printed(result: subprocess.CompletedProcess[str], password: str) -> None:
    assert password not in result.stdout
    assert password not in result.stderr


def test_an_acceptable_password_exits_0(tmp_path: Path) -> None:
    result = check(bot_folder(tmp_path), ACCEPTED)
    assert result.returncode == 0, result.stderr
    assert all(" WARNING " in line for line in result.stderr.splitlines()), result.stderr
    assert result.stdout == "alice: the bot would accept this password\n"
    never_printed(result, ACCEPTED)


def test_a_common_password_exits_1_with_the_reason(tmp_path: Path) -> None:
    result = check(bot_folder(tmp_path), "Password1Password1")
    assert said(result) == (1, english("password_common"))
    assert result.stdout == ""
    never_printed(result, "Password1Password1")


def test_each_reason_is_the_catalogs_english_text(tmp_path: Path) -> None:
    folder = bot_folder(tmp_path, password={"banned_words": ["contoso"]})
    refused = {
        "P4ssw0rd!": english("password_too_short", min=12),
        "C0nt0s0!!2024": english("password_banned"),
        "Wilber the pig 2024": english("password_personal"),
    }
    for password, reason in refused.items():
        result = check(folder, password)
        assert said(result) == (1, reason), password
        never_printed(result, password)


def test_the_context_words_are_the_users_own(tmp_path: Path) -> None:
    folder = bot_folder(tmp_path)
    assert check(folder, "Wilber the pig 2024", user="bob").returncode == 0
    assert check(folder, "Wilber the pig 2024", user="alice").returncode == 1


def test_an_unknown_user_is_an_operator_error(tmp_path: Path) -> None:
    result = check(bot_folder(tmp_path), ACCEPTED, user="nobody")
    assert said(result) == (2, "sspr-bot: password check: no account 'nobody' in the directory")


def test_a_broken_config_is_an_operator_error(tmp_path: Path) -> None:
    folder = bot_folder(tmp_path, password={"min_length": 4, "common_lists": ["missing.txt"]})
    result = check(folder, ACCEPTED)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert any(line.startswith("password.min_length:") for line in lines), lines
    assert "password.common_lists: missing.txt: not a readable file" in lines
    assert "Traceback" not in result.stderr


def test_a_missing_directory_is_an_operator_error_and_none_is_made(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text("{}\n")
    result = check(tmp_path, ACCEPTED)
    assert result.returncode == 2
    assert result.stderr.startswith("sspr-bot: password check: no directory file at ")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["sspr.yaml"]


def test_an_extra_list_is_read(tmp_path: Path) -> None:
    (tmp_path / "ours.txt").write_text("zebrafinch\n")
    folder = bot_folder(tmp_path, password={"common_lists": [str(tmp_path / "ours.txt")]})
    result = check(folder, "Zebrafinch2024!")
    assert said(result) == (1, english("password_common"))


async def test_with_the_breach_check_on_a_breached_password_exits_1(tmp_path: Path) -> None:
    async with pwned_stand_in() as pwned:
        pwned.breach(ACCEPTED, 12)
        folder = bot_folder(tmp_path, password={"pwned": {"enabled": True, "url": pwned.url}})
        result = await asyncio.to_thread(check, folder, ACCEPTED)
        assert said(result) == (1, english("password_breached"))
        never_printed(result, ACCEPTED)
        assert len(pwned.received) == 1
