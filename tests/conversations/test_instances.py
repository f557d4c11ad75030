"""Several bot processes behind one load balancer share one Redis: a conversation whose
turns land on different instances completes a reset."""

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.stand_ins.connector import ConnectorStandIn
from tests.support.harness import PASSWORDS, Outbox
from tests.support.ports import free_port
from tests.support.processes import SSPR_BOT, cli_environment, serving
from tests.support.redis import RedisServer

SECRET_KEY = "k" * 40
_ids = count(1)


def activity(connector: ConnectorStandIn, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"instances-{next(_ids)}",
        "channelId": "emulator",
        "serviceUrl": connector.url,
        "from": {"id": "alice"},
        "recipient": {"id": "sspr-bot"},
        "conversation": {"id": "shared-conversation"},
        "text": text,
        "locale": "en-US",
    }


async def test_turns_on_alternating_instances_complete_a_reset(
    tmp_path: Path,
    connector: ConnectorStandIn,
    make_redis_server: Callable[..., RedisServer],
) -> None:
    redis = make_redis_server()
    config = tmp_path / "sspr.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(tmp_path / "data"),
                "state": {"backend": "redis"},
                "logging": {"level": "INFO"},
                "delivery": {"outbox": {"console": False}},
                "password": {"entry": "temporary"},
            }
        )
    )
    env = {"SSPR_REDIS_URL": redis.url, "SSPR_SECRET_KEY": SECRET_KEY}
    outbox = Outbox(tmp_path / "data" / "outbox.jsonl")
    async with AsyncExitStack() as stack:
        instances = [
            await stack.enter_async_context(
                serving(tmp_path, free_port(), "--config", str(config), env=env)
            )
            for _ in range(2)
        ]
        session = await stack.enter_async_context(aiohttp.ClientSession())

        async def say(instance: int, text: str) -> str:
            mark = len(connector.received)
            url = f"{instances[instance].url}/api/messages"
            async with session.post(url, json=activity(connector, text)) as response:
                assert response.status == 202
            return "\n".join(reply.text for reply in connector.received[mark:])

        assert "Hi Alice Wilber" in await say(0, "reset")
        assert "I've emailed" in await say(1, "email")
        assert "isn't right" in await say(0, "000000")
        done = await say(1, outbox.last_code())
        assert "temporary password" in done
        temporary = done.split("\n\n")[1]

    for password, expected in ((temporary, 0), (PASSWORDS["alice"], 1)):
        checked = await _check_password(tmp_path, config, password)
        assert checked == expected


async def _check_password(cwd: Path, config: Path, password: str) -> int:
    """With the store unreachable: checking a password needs the directory only."""
    process = await asyncio.create_subprocess_exec(
        str(SSPR_BOT),
        "directory",
        "check-password",
        "alice",
        "--config",
        str(config),
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env=cli_environment({"SSPR_REDIS_URL": "redis://127.0.0.1:1/0"}),
    )
    await process.communicate(f"{password}\n".encode())
    assert process.returncode is not None
    return process.returncode
