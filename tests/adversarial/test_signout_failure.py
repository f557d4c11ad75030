"""A failed sign-out after a successful Graph password change.

The attack (or plain bad luck): Graph sets the password, then `revokeSignInSessions` fails.
The turn crashed (`MachineError: Can't trigger event change_failed from state done`): the
password was changed but nothing was audited, nobody was told, and the next message said it
crossed with another. What holds: "password set, sign-out failed" is its own outcome,
audited, told plainly to the user, and the notification sent.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from tests.stand_ins.graph import GraphApp, GraphStandIn, graph_app, running_graph_stand_in
from tests.support.harness import Bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]


@pytest.fixture(scope="module")
def graph_files(tmp_path_factory: pytest.TempPathFactory) -> GraphApp:
    return graph_app(tmp_path_factory.mktemp("graph"))


@pytest.fixture
async def entra(graph_files: GraphApp) -> AsyncIterator[GraphStandIn]:
    async with running_graph_stand_in(graph_files) as stand_in:
        yield stand_in


async def test_a_password_set_without_the_sign_out_is_done_audited_and_told(
    make_bot: MakeBot, entra: GraphStandIn
) -> None:
    megan = entra.add_user(
        "megan@contoso.com", "Megan Bowen", mail="megan@contoso.com", mobile_phone="+14255550109"
    )
    entra.add_group("SSPR users", megan)
    megan.revoke_fails = True
    config = {"directory": {"kind": "graph", "graph": entra.settings()}}
    async with make_bot(entra.environ(), access={"mode": "all"}, **config) as bot:
        chat = bot.chat("megan@contoso.com")
        await chat.text("reset")
        await chat.text("sms")
        done = await chat.text(bot.outbox.last_code())
        temporary = done.split("\n\n")[1]
        assert megan.passwords == [temporary]
        assert megan.sessions_revoked == 0
        assert "couldn't sign you out of your other sessions" in done
        assert "crossed" not in done
        await bot.runtime.background.drain()
        [reset] = [e for e in bot.audit() if e["event"] == "password.reset"]
        assert reset["signed_out"] is False
        assert bot.outbox.messages()[-1]["subject"] == "Your password was reset"
        assert "Hi Megan Bowen" in await chat.text("reset")  # the next message is a new start
