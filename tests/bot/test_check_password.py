"""`sspr-bot directory check-password`, a read-only command: it says which directory file it
reads and never makes one, wherever it is run from."""

import shutil
import subprocess
from pathlib import Path

from tests.support.harness import PASSWORDS
from tests.support.paths import DEMO_DIRECTORY
from tests.support.processes import SSPR_BOT, WAIT, cli_environment

DEMO = DEMO_DIRECTORY


def check_password(cwd: Path, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SSPR_BOT), "directory", "check-password", "alice", *args],
        cwd=cwd,
        input=f"{password}\n",
        capture_output=True,
        text=True,
        env=cli_environment(),
        timeout=WAIT,
        check=False,
    )


def test_from_a_folder_without_the_bot_it_creates_nothing(tmp_path: Path) -> None:
    result = check_password(tmp_path, PASSWORDS["alice"])
    assert result.returncode == 2
    missing = tmp_path / "sspr-data" / "directory.yaml"
    assert result.stderr.startswith(f"sspr-bot: no directory file at {missing}"), result.stderr
    assert "--config" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_it_names_the_file_it_reads(tmp_path: Path) -> None:
    bot = tmp_path / "bot"
    (bot / "sspr-data").mkdir(parents=True)
    directory = bot / "sspr-data" / "directory.yaml"
    shutil.copyfile(DEMO, directory)
    here = check_password(bot, PASSWORDS["alice"])
    assert here.returncode == 0, here.stderr
    assert f"reading {directory}" in here.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = elsewhere / "sspr.yaml"
    config.write_text(f"data_dir: {bot / 'sspr-data'}\n")
    named = check_password(elsewhere, "not-alices-password", "--config", str(config))
    assert named.returncode == 1, named.stderr
    assert f"reading {directory}" in named.stderr
    assert sorted(path.name for path in elsewhere.iterdir()) == ["sspr.yaml"]
