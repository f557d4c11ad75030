"""Whole conversations on Microsoft Entra ID: the real bot, the real Graph adapter and msal,
against the local Graph and token stand-in."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from tests.stand_ins.graph import (
    GraphApp,
    GraphStandIn,
    User,
    graph_app,
    running_graph_stand_in,
)
from tests.support.harness import Bot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]


@pytest.fixture(scope="session")
def graph_files(tmp_path_factory: pytest.TempPathFactory) -> GraphApp:
    return graph_app(tmp_path_factory.mktemp("graph"))


@pytest.fixture
async def entra(graph_files: GraphApp) -> AsyncIterator[GraphStandIn]:
    async with running_graph_stand_in(graph_files) as stand_in:
        yield stand_in


def people(entra: GraphStandIn) -> tuple[User, User]:
    megan = entra.add_user(
        "megan@contoso.com",
        "Megan Bowen",
        mail="megan@contoso.com",
        mobile_phone="+1 425 555 0109",
    )
    admin = entra.add_user("admin@contoso.com", "Isaiah Langer", mail="admin@contoso.com")
    sales = entra.add_group("Sales", megan)
    entra.add_group("SSPR users", sales, admin)
    entra.add_role("User Administrator", admin)
    return megan, admin


def on_entra(make_bot: MakeBot, entra: GraphStandIn) -> AbstractAsyncContextManager[Bot]:
    return make_bot(
        entra.environ(),
        directory={"kind": "graph", "graph": entra.settings()},
        access={"mode": "groups", "groups": ["SSPR users"]},
    )


async def test_a_reset_lands_in_entra_and_signs_the_user_out(
    make_bot: MakeBot, entra: GraphStandIn
) -> None:
    megan, _ = people(entra)
    async with on_entra(make_bot, entra) as bot:
        chat = bot.chat("megan@contoso.com")
        menu = await chat.text("reset")
        assert "Hi Megan Bowen" in menu
        assert "+1 *** *** 0109" in menu
        assert "authenticator" not in menu.casefold()
        await chat.text("sms")
        done = await chat.text(bot.outbox.last_code())
        temporary = done.split("\n\n")[1]
    assert megan.passwords == [temporary]
    assert megan.must_change is True
    assert megan.sessions_revoked == 1
    patch = entra.graph_requests("PATCH")[0]
    assert patch.path == f"/users/{megan.id}"


async def test_an_admin_the_app_may_not_reset_is_handed_to_the_helpdesk(
    make_bot: MakeBot, entra: GraphStandIn
) -> None:
    _, admin = people(entra)
    admin.mobile_phone = "+1 425 555 0110"
    async with on_entra(make_bot, entra) as bot:
        chat = bot.chat("admin@contoso.com")
        menu = await chat.text("reset")
        assert "security questions" not in menu
        await chat.text("email")
        second = await chat.text(bot.outbox.last_code())
        assert "One more check" in second
        await chat.text("sms")
        answer = await chat.text(bot.outbox.last_code())
        assert "can only be changed by the helpdesk" in answer
    assert admin.passwords == []
    assert admin.sessions_revoked == 0
