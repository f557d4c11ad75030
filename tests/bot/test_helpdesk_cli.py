"""The helpdesk's command line through the real `sspr-bot`: a locked reset flow is seen,
lifted on the record, and seen lifted; a ticket is handed to a running bot, signed."""

import asyncio
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path

from bot.runtime import start_runtime
from bot.settings import Settings
from dialogs.limits import Limits
from tests.support.ports import free_port
from tests.support.processes import SSPR_BOT, WAIT, cli_environment, serving

HANDOFF_SECRET = "a shared secret only the helpdesk and the bot know"


def configured(tmp_path: Path) -> Path:
    config = tmp_path / "sspr.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    return config


async def lock_bob(config: Path) -> str:
    """Bob's reset flow locked after failed checks, as the dialog leaves it."""
    settings = Settings.model_validate({"data_dir": str(config.parent / "data")})
    runtime = await start_runtime(settings, secrets={})
    try:
        bob = await runtime.directory.find("bob")
        assert bob is not None
        limits = Limits(runtime.store, settings.dialog().limits, runtime.clock)
        for _ in range(3):
            assert await limits.reserve_attempt(bob.id)
        await limits.lock(bob.id)
        return bob.id
    finally:
        await runtime.close()


def sspr_bot(
    config: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SSPR_BOT), *args, "--config", str(config)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        env=cli_environment(env),
        timeout=WAIT,
        check=False,
    )


def audited(config: Path) -> list[dict[str, object]]:
    lines = (config.parent / "data" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_locked_flow_is_seen_cleared_on_the_record_and_seen_cleared(tmp_path: Path) -> None:
    config = configured(tmp_path)
    bob = asyncio.run(lock_bob(config))

    locked = sspr_bot(config, "user", "status", "bob")
    assert locked.returncode == 0, locked.stderr
    assert "bob: in reset scope" in locked.stdout
    assert "reset flow: locked until " in locked.stdout
    assert "failures counted now: 3" in locked.stdout

    cleared = sspr_bot(config, "lockout", "clear", "bob", "--by", "helpdesk: Jo, INC0012345")
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout == "bob: cleared the reset lock and 3 counted failures\n"
    event = audited(config)[-1]
    assert event["event"] == "lockout.cleared"
    assert event["account"] == bob
    assert event["by"] == "helpdesk: Jo, INC0012345"
    assert event["host"]

    after = sspr_bot(config, "user", "status", "bob")
    assert "reset flow: not locked" in after.stdout
    assert "failures counted now: 0" in after.stdout


def test_the_status_as_json_holds_masked_contacts_and_no_write(tmp_path: Path) -> None:
    config = configured(tmp_path)
    asyncio.run(lock_bob(config))

    shown = sspr_bot(config, "user", "status", "bob@contoso.com", "--json")

    assert shown.returncode == 0, shown.stderr
    status = json.loads(shown.stdout)
    assert status["found"] is True
    assert status["in_scope"] is True
    assert status["locked"] is True
    assert isinstance(status["locked_until"], float)
    assert status["failures"] == 3
    assert all("***" in value for value in status["contacts"].values())
    assert "bob@contoso.com" not in shown.stdout
    assert not (tmp_path / "data" / "audit.jsonl").exists()


def test_an_unknown_account_is_an_operator_error(tmp_path: Path) -> None:
    config = configured(tmp_path)

    cleared = sspr_bot(config, "lockout", "clear", "nobody")

    assert cleared.returncode == 2
    problem = cleared.stderr.splitlines()[-1]
    assert problem == "sspr-bot: lockout clear: no account 'nobody' in the directory"


async def test_a_ticket_is_handed_to_the_running_bot(tmp_path: Path) -> None:
    config = configured(tmp_path)
    secret = {"SSPR_HANDOFF_SECRET": HANDOFF_SECRET}
    async with serving(tmp_path, free_port(), "--config", str(config), env=secret) as served:
        handed = await asyncio.to_thread(
            sspr_bot,
            config,
            "handoff",
            "nobody@contoso.com",
            "--ticket",
            "INC0012345",
            "--url",
            f"{served.url}/api/handoff",
            env=secret,
        )

    assert handed.returncode == 0, handed.stderr
    assert json.loads(handed.stdout) == {"reached": False, "reason": "not reachable"}
    assert HANDOFF_SECRET not in handed.stdout + handed.stderr


def test_a_hand_off_without_the_secret_is_an_operator_error(tmp_path: Path) -> None:
    config = configured(tmp_path)

    handed = sspr_bot(config, "handoff", "bob", "--ticket", "INC0012345")

    assert handed.returncode == 2
    assert handed.stderr == "sspr-bot: handoff: SSPR_HANDOFF_SECRET is not set\n"
