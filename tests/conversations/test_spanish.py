"""A conversation in Spanish from end to end: the channel's locale picks the catalog, and the
Spanish command words (`reenviar`, `ayuda`, `cancelar`) steer the dialog."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from itertools import count
from pathlib import Path

from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount
from microsoft_agents.hosting.core import ClaimsIdentity
from microsoft_agents.testing import TestAdapter

from bot.botframework.agent import development_identity
from bot.botframework.credentials import from_environment
from bot.runtime import bot_framework_adapter
from dialogs.catalog import packaged_messages
from state import FrozenClock
from tests.support.harness import Bot
from tests.support.webchat import serving_webchat

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
SPANISH = packaged_messages("es")
_conversations = count(1)


class LocalChat:
    """A signed-in user's chat whose client sends `locale` on every message, as Teams does
    (None: a client that names no locale)."""

    def __init__(self, bot: Bot, user: str, locale: str | None) -> None:
        _, self._agent = bot_framework_adapter(
            bot.runtime, from_environment({}), development_identity
        )
        self._user, self._locale = user, locale
        reference = TestAdapter.create_conversation_model(
            user_id=user, conv_id=f"spanish-{next(_conversations)}"
        )
        self._adapter = TestAdapter(conversation=reference)

    async def text(self, text: str) -> str:
        before = len(self._adapter.activity_queue)
        named = {} if self._locale is None else {"locale": self._locale}
        activity = Activity(
            type=ActivityTypes.message,
            text=text,
            from_property=ChannelAccount(id=self._user),
            **named,
        )
        await self._adapter.process_activity(ClaimsIdentity({}), activity, self._agent.on_turn)
        return "\n---\n".join(reply.text or "" for reply in self._adapter.activity_queue[before:])


def number_of(label: str, menu: str) -> str:
    """The number a menu shows before the choice that starts with `label`."""
    [number] = [
        line.split(". ", 1)[0]
        for line in menu.splitlines()
        if line.split(". ", 1)[-1].startswith(label)
    ]
    return number


async def test_a_reset_in_spanish_uses_spanish_texts_and_command_words(bot: Bot) -> None:
    chat = LocalChat(bot, "alice", "es-ES")
    menu = await chat.text("reset")
    assert SPANISH["greeting"].format(name="Alice Wilber") in menu
    assert SPANISH["choose_method"] in menu
    assert "Enviar un código por correo a a***@contoso.com" in menu
    assert SPANISH["help"] in await chat.text("Ayuda")
    sent = await chat.text(number_of("Enviar un código por correo", menu))
    assert sent.startswith("Le he enviado un código de 6 dígitos por correo a a***@contoso.com")
    [first] = bot.outbox.messages()
    assert first["subject"] == SPANISH["code_subject"]
    assert first["body"].startswith("Su código para restablecer la contraseña es")
    assert (await chat.text("reenviar")).startswith("Le he enviado un código")
    assert len(bot.outbox.messages()) == 2
    done = await chat.text(bot.outbox.last_code())
    assert done.startswith("Identidad verificada. He establecido una contraseña temporal:")
    await bot.runtime.background.drain()
    notice = bot.outbox.messages()[-1]
    assert notice["subject"] == SPANISH["notify_subject"]
    assert notice["body"].startswith("La contraseña de alice se restableció")


async def test_spanish_words_cancel_and_ask_for_another_method(bot: Bot) -> None:
    chat = LocalChat(bot, "alice", "es-MX")
    await chat.text(number_of("Enviar un código por correo", await chat.text("reset")))
    again = await chat.text("Otro")
    assert SPANISH["choose_method"] in again
    cancelled = await chat.text("Cancelar.")
    assert cancelled == SPANISH["cancelled"]
    assert [e["event"] for e in bot.audit()][-1] == "reset.cancelled"


async def test_a_client_in_a_language_without_messages_hears_the_default_locale(
    make_bot: MakeBot,
) -> None:
    async with make_bot(default_locale="es") as bot:
        chat = LocalChat(bot, "alice", "sv-SE")
        menu = await chat.text("reset")
        assert SPANISH["greeting"].format(name="Alice Wilber") in menu
        english = LocalChat(bot, "adele", "en-GB")
        assert "Hi Adele" in await english.text("reset")


async def test_a_client_that_names_no_locale_hears_the_default_locale(
    make_bot: MakeBot,
) -> None:
    async with make_bot(default_locale="es") as bot:
        chat = LocalChat(bot, "alice", None)
        assert SPANISH["greeting"].format(name="Alice Wilber") in await chat.text("reset")
        assert SPANISH["cancelled"] == await chat.text("cancelar")


async def test_the_web_chat_speaks_spanish_to_a_spanish_browser(
    tmp_path: Path, clock: FrozenClock
) -> None:
    spanish = {"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"}
    async with serving_webchat(tmp_path / "data", clock, {}, {}) as served:
        page = await served.get("/", headers=spanish)
        html = page.body.decode()
        assert '<html lang="es">' in html
        assert SPANISH["webchat_heading"] in html
        browser = await served.browser()
        asked = await browser.say("reset", headers=spanish)
        assert asked.text == SPANISH["ask_account"]
        helped = await browser.say("ayuda", headers=spanish)
        assert helped.text == SPANISH["help"]


async def test_the_web_chat_falls_back_to_the_default_locale(
    tmp_path: Path, clock: FrozenClock
) -> None:
    async with serving_webchat(tmp_path / "data", clock, {}, {}, default_locale="es") as served:
        page = await served.get("/", headers={"Accept-Language": "sv"})
        assert '<html lang="es">' in page.body.decode()
        browser = await served.browser()
        assert (await browser.say("reset", headers={"Accept-Language": "sv"})).text == (
            SPANISH["ask_account"]
        )
