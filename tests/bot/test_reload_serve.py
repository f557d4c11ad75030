"""A real `sspr-bot serve` reloading its config file: on SIGHUP and when the file changes,
each reload logged and audited, an invalid file refused with its errors in the log."""

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import yaml

from bot.reload import file_fingerprint
from tests.support.ports import free_port
from tests.support.processes import WAIT, Served, serving


def write_config(path: Path, **sections: Any) -> None:
    document = {"data_dir": str(path.parent / "data"), "audit": {"sinks": ["file"]}, **sections}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


async def logged(served: Served, message: str) -> dict[str, Any]:
    """The next log line whose message starts with `message` (within WAIT seconds)."""

    async def next_match() -> dict[str, Any]:
        stderr = served.process.stderr
        assert stderr is not None
        while line := await stderr.readline():
            if line.startswith(b"{"):
                entry: dict[str, Any] = json.loads(line)
                served.log.append(entry)
                if str(entry["message"]).startswith(message):
                    return entry
        raise AssertionError(f"serve stopped before logging {message!r}: {served.log}")

    return await asyncio.wait_for(next_match(), WAIT)


def audited(config: Path) -> list[dict[str, Any]]:
    trail = config.parent / "data" / "audit.jsonl"
    lines = trail.read_text(encoding="utf-8").splitlines()
    return [event for event in map(json.loads, lines) if event["event"] == "config.reloaded"]


async def test_serve_reloads_on_sighup_and_on_a_change_and_refuses_an_invalid_file(
    tmp_path: Path,
) -> None:
    config = tmp_path / "sspr.yaml"
    write_config(config, verification={"required": 1})

    async with serving(tmp_path, free_port(), "--config", str(config)) as served:
        write_config(config, verification={"required": 2})
        served.process.send_signal(signal.SIGHUP)
        hung_up = await logged(served, "config reloaded")
        assert hung_up["message"] == "config reloaded: applied"
        assert hung_up["cause"] == "sighup"
        assert hung_up["fingerprint"] == file_fingerprint(config.read_bytes())

        config.write_text("verification:\n  required: 3\n", encoding="utf-8")
        refused = await logged(served, "config reload refused")
        assert refused["cause"] == "file_changed"
        assert refused["problems"] == ["verification.required: must be 1 or 2"]

        write_config(config, verification={"required": 2}, server={"port": 1})
        restart = await logged(served, "config change needs a restart")
        assert restart["sections"] == ["server"]
        assert (await logged(served, "config reloaded"))["message"] == "config reloaded: unchanged"

    assert [(event["cause"], event["outcome"]) for event in audited(config)] == [
        ("sighup", "applied"),
        ("file_changed", "refused"),
        ("file_changed", "unchanged"),
    ]


async def test_serve_stops_in_order_at_sigterm(tmp_path: Path) -> None:
    """A service manager's or Kubernetes' stop: the bot closes as at Ctrl-C and exits 0."""
    config = tmp_path / "sspr.yaml"
    write_config(config)

    async with serving(tmp_path, free_port(), "--config", str(config)) as served:
        served.process.send_signal(signal.SIGTERM)
        assert (await logged(served, "stopping"))["message"] == "stopping: SIGTERM"
        assert await asyncio.wait_for(served.process.wait(), WAIT) == 0


async def test_sighup_on_the_embedded_defaults_is_no_stop(tmp_path: Path) -> None:
    async with serving(tmp_path, free_port()) as served:
        served.process.send_signal(signal.SIGHUP)
        warned = await logged(served, "SIGHUP")
        assert warned["message"].startswith("SIGHUP: no config file to reload")
        assert served.process.returncode is None
