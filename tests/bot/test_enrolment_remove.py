"""`sspr-bot enrolment remove`, for the helpdesk when a phone is lost: it forgets what was
registered in chat, on the store the bot serves from, audits who asked, and prints no
secret."""

import asyncio
import json
import subprocess
from pathlib import Path

import pyotp

from adapters.directory import SecurityQuestion
from adapters.directory.answers import hash_answer
from bot.runtime import start_runtime
from bot.settings import Settings
from tests.support.processes import SSPR_BOT, WAIT, cli_environment

SECRET = pyotp.random_base32()
ANSWER = "Marmalade the cat"


def configured(tmp_path: Path) -> Path:
    config = tmp_path / "sspr.yaml"
    config.write_text(f"data_dir: {tmp_path / 'data'}\n")
    return config


async def registered_bob(config: Path) -> str:
    """Bob with an authenticator and questions registered, as the chat would leave them."""
    settings = Settings.model_validate({"data_dir": str(config.parent / "data")})
    runtime = await start_runtime(settings, secrets={})
    try:
        bob = await runtime.directory.find("bob")
        assert bob is not None
        await runtime.registry.add_authenticator(bob.id, SECRET)
        answer_hash = await asyncio.to_thread(hash_answer, ANSWER)
        question = SecurityQuestion("pet", "What was the name of your first pet?", answer_hash)
        await runtime.registry.set_questions(bob.id, [question])
        return bob.id
    finally:
        await runtime.close()


async def registered(config: Path, account_id: str) -> tuple[bool, int]:
    settings = Settings.model_validate({"data_dir": str(config.parent / "data")})
    runtime = await start_runtime(settings, secrets={})
    try:
        found = await runtime.registry.read(account_id)
        return found.authenticator is not None, len(found.questions)
    finally:
        await runtime.close()


def remove(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SSPR_BOT), "enrolment", "remove", *args, "--config", str(config)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        env=cli_environment(),
        timeout=WAIT,
        check=False,
    )


def audited(config: Path) -> list[dict[str, object]]:
    lines = (config.parent / "data" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_one_method_is_forgotten_and_the_helpdesk_is_on_record(tmp_path: Path) -> None:
    config = configured(tmp_path)
    bob = asyncio.run(registered_bob(config))

    done = remove(config, "bob@contoso.com", "authenticator", "--by", "helpdesk: Jo, INC0012345")

    assert done.returncode == 0, done.stderr
    assert "bob: removed authenticator" in done.stderr
    assert done.stdout == "bob: registered now: questions\n"
    assert asyncio.run(registered(config, bob)) == (False, 1)
    [event] = [e for e in audited(config) if e["event"] == "enrolment.removed"]
    assert (event["account"], event["method"], event["by"]) == (
        bob,
        "authenticator",
        "helpdesk: Jo, INC0012345",
    )
    for text in (done.stdout, done.stderr, json.dumps(audited(config))):
        assert SECRET not in text
        assert ANSWER not in text


def test_without_a_method_everything_registered_is_forgotten(tmp_path: Path) -> None:
    config = configured(tmp_path)
    bob = asyncio.run(registered_bob(config))

    done = remove(config, "bob")

    assert done.returncode == 0, done.stderr
    assert "bob: removed authenticator, questions" in done.stderr
    assert done.stdout == "bob: registered now: nothing\n"
    assert asyncio.run(registered(config, bob)) == (False, 0)
    [event] = [e for e in audited(config) if e["event"] == "enrolment.removed"]
    assert event["method"] == "all"


def test_an_unknown_account_or_method_is_an_operator_error(tmp_path: Path) -> None:
    config = configured(tmp_path)
    asyncio.run(registered_bob(config))

    unknown = remove(config, "nobody")
    assert unknown.returncode == 2
    assert "no account 'nobody'" in unknown.stderr
    assert "Traceback" not in unknown.stderr

    wrong = remove(config, "bob", "carrier-pigeon")
    assert wrong.returncode == 2
    assert "invalid choice" in wrong.stderr
