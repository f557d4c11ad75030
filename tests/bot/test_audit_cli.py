"""`sspr-bot audit` as an operator runs it: two bot instances on one Redis write one
stream that `audit search` reads back, and `audit tail -f` prints an event recorded after
it started."""

import asyncio
import json
import subprocess
from pathlib import Path

from adapters.audit import AuditTrail, JsonlFile
from state import FrozenClock
from state.audit_stream import open_audit_stream
from state.settings import StateSettings
from tests.support.harness import running_bot
from tests.support.processes import SSPR_BOT, WAIT, cli_environment


def config_file(tmp_path: Path, *lines: str) -> Path:
    config = tmp_path / "sspr.yaml"
    config.write_text("\n".join([f"data_dir: {tmp_path / 'cli-data'}", *lines]) + "\n")
    return config


def sspr_bot(config: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SSPR_BOT), *args, "--config", str(config)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        env=cli_environment(env),
        timeout=WAIT,
        check=False,
    )


async def reset_started(tmp_path: Path, name: str, redis_url: str, user: str) -> str:
    """One instance (its own data folder, the shared Redis) where `user` asks for a reset;
    the conversation's correlation id."""
    environ = {"SSPR_REDIS_URL": redis_url}
    state = {"backend": "redis"}
    async with running_bot(tmp_path / name, FrozenClock(), environ, state=state) as bot:
        await bot.chat(user).text("reset")
        [started] = [event for event in bot.audit() if event["event"] == "reset.started"]
    return str(started["correlation_id"])


async def test_two_instances_write_one_stream_that_search_reads(
    tmp_path: Path, redis_url: str
) -> None:
    first = await reset_started(tmp_path, "one", redis_url, "alice")
    second = await reset_started(tmp_path, "two", redis_url, "alice")
    await reset_started(tmp_path, "three", redis_url, "bob")
    config = config_file(tmp_path, "state:", "  backend: redis")
    env = {"SSPR_REDIS_URL": redis_url}

    found = sspr_bot(
        config, "audit", "search", "--user", "alice", "--since", "7d", "--json", env=env
    )

    assert found.returncode == 0, found.stderr
    events = [json.loads(line) for line in found.stdout.splitlines()]
    assert {event["correlation_id"] for event in events} == {first, second}
    assert {event["requester"] for event in events} == {"alice"}
    assert "reset.started" in [event["event"] for event in events]
    readable = sspr_bot(config, "audit", "search", "--user", "alice", env=env)
    assert readable.returncode == 0
    lines = readable.stdout.splitlines()
    assert len(lines) == len(events)
    assert all(f"correlation_id={first}" in line or second in line for line in lines)
    assert "reset.started" in lines[0]
    assert "requester=alice" in lines[0]
    nobody = sspr_bot(config, "audit", "search", "--user", "nobody-at-all", env=env)
    assert (nobody.returncode, nobody.stdout) == (1, "")


async def wait_for_line(stream: asyncio.StreamReader, needle: str) -> str:
    async with asyncio.timeout(WAIT):
        while True:
            line = (await stream.readline()).decode()
            assert line, "audit tail ended"
            if needle in line:
                return line


async def follow(config: Path, env: dict[str, str], first: str, record: AuditTrail) -> None:
    """`audit tail -f` prints what is there (`first`), then an event recorded after it."""
    process = await asyncio.create_subprocess_exec(
        str(SSPR_BOT),
        "audit",
        "tail",
        "-f",
        "-n",
        "5",
        "--json",
        "--config",
        str(config),
        cwd=config.parent,
        env=cli_environment(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        await wait_for_line(process.stdout, first)
        await record.record("lockout.cleared", account="acct-9", requester="helpdesk-1")
        line = await wait_for_line(process.stdout, "lockout.cleared")
        assert json.loads(line)["requester"] == "helpdesk-1"
    finally:
        process.kill()
        await process.communicate()


async def test_tail_follows_the_file(tmp_path: Path) -> None:
    config = config_file(tmp_path, "audit:", "  sinks: [file]")
    trail = AuditTrail([JsonlFile(tmp_path / "cli-data" / "audit.jsonl")])
    await trail.record("reset.started", account="acct-1", requester="29:first")
    await follow(config, {}, "29:first", trail)
    await trail.close()


async def test_tail_follows_the_stream(tmp_path: Path, redis_url: str) -> None:
    config = config_file(tmp_path, "state:", "  backend: redis")
    stream = open_audit_stream(
        StateSettings(backend="redis", url=redis_url),
        environ={},
        data_dir=tmp_path,
        key="sspr:audit",
        max_length=1000,
    )
    trail = AuditTrail([stream])
    await trail.record("reset.started", account="acct-1", requester="29:first")
    await stream.flushed()
    await follow(config, {"SSPR_REDIS_URL": redis_url}, "29:first", trail)
    await trail.close()
