"""A real `sspr-bot serve`: what it logs during a turn names that conversation's
correlation id, the one its audit events carry; lines outside a turn name none; and no
line holds the code or the password of the reset it logged."""

import json
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.stand_ins.connector import ConnectorStandIn
from tests.support.harness import Outbox
from tests.support.processes import serving_logged

_ids = count(1)
REPEATED = "repeated delivery ignored"


def activity(
    connector: ConnectorStandIn, conversation: str, user: str, text: str
) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"correlation-{next(_ids)}",
        "channelId": "emulator",
        "serviceUrl": connector.url,
        "from": {"id": user},
        "recipient": {"id": "sspr-bot"},
        "conversation": {"id": conversation},
        "text": text,
        "locale": "en-US",
    }


def audited_correlation(audit: Path, user: str) -> str:
    """The correlation id of the one conversation the trail has for `user`."""
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    ids = {event["correlation_id"] for event in events if event.get("requester") == user}
    assert len(ids) == 1, ids
    return str(ids.pop())


async def test_lines_written_in_a_turn_carry_its_correlation_id(
    tmp_path: Path, connector: ConnectorStandIn
) -> None:
    config = tmp_path / "sspr.yaml"
    data = tmp_path / "data"
    config.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(data),
                "logging": {"level": "INFO", "format": "json"},
                "delivery": {"outbox": {"console": False}},
                "password": {"entry": "temporary"},
                "audit": {"sinks": ["file"]},
            }
        )
    )
    outbox = Outbox(data / "outbox.jsonl")
    args = ("--host", "127.0.0.1", "--port", "0", "--config", str(config))
    async with serving_logged(tmp_path, *args) as served, aiohttp.ClientSession() as session:

        async def post(sent: dict[str, Any]) -> str:
            mark = len(connector.received)
            async with session.post(f"{served.url}/api/messages", json=sent) as response:
                assert response.status == 202
            return "\n".join(reply.text for reply in connector.received[mark:])

        await post(activity(connector, "conv-alice", "alice", "reset"))
        await post(activity(connector, "conv-alice", "alice", "email"))
        code = outbox.last_code()
        finishing = activity(connector, "conv-alice", "alice", code)
        done = await post(finishing)
        temporary = done.split("\n\n")[1]
        assert "temporary password" in done
        assert await post(finishing) == ""
        starting = activity(connector, "conv-bob", "bob", "reset")
        assert "Hi Bob Basic" in await post(starting)
        assert await post(starting) == ""

    log = served.log
    repeated = [entry for entry in log if entry["message"] == REPEATED]
    assert [entry["activity"] for entry in repeated] == [finishing["id"], starting["id"]]
    alice, bob = (audited_correlation(data / "audit.jsonl", user) for user in ("alice", "bob"))
    assert alice != bob
    assert [entry["correlation_id"] for entry in repeated] == [alice, bob]
    listening = next(entry for entry in log if entry["message"] == "listening")
    assert "correlation_id" not in listening
    written = "\n".join(json.dumps(entry) for entry in log)
    assert code not in written
    assert temporary not in written
