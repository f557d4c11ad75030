"""Codes and notices through a real mail server (aiosmtpd), in whole conversations: a reset
with the code read from the mail that arrived, a carrier that refuses or is gone, a mail
that may have gone, a typed name whose mail bounces, and who is told afterwards."""

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from email.message import EmailMessage
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.delivery import DeliverySection, outbox_in_production
from tests.support.harness import Bot
from tests.support.ports import HOST, free_port
from tests.support.smtp import SmtpServer, running_smtp_server

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]
LOGIN = ("sspr@contoso.com", "smtp-login-secret")
BOB = "b4532b99-c7a7-4304-8b35-22543527c06f"


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[SmtpServer]:
    async with running_smtp_server(tmp_path / "smtp", "starttls", login=LOGIN) as server:
        yield server


def smtp_config(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    email = {
        "kind": "smtp",
        "host": server.host,
        "port": server.port,
        "security": "starttls",
        "username": LOGIN[0],
        "sender": "Password reset <sspr@contoso.com>",
        "ca_file": str(server.ca),
    }
    return {"delivery": {"email": email, "outbox": {"console": False}, **extra}}


def smtp_bot(make_bot: MakeBot, server: SmtpServer, **config: Any) -> Any:
    return make_bot(environ={"SSPR_SMTP_PASSWORD": LOGIN[1]}, **smtp_config(server), **config)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def code_in(message: EmailMessage) -> str:
    found = re.search(r"\b\d{6}\b", text_of(message))
    assert found, text_of(message)
    return found.group()


async def test_a_whole_reset_with_the_code_from_the_mail_that_arrived(
    make_bot: MakeBot, mail: SmtpServer
) -> None:
    async with smtp_bot(make_bot, mail) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        assert "I've emailed a 6-digit code to a***@contoso.com" in await chat.text("email")
        [received] = mail.mailbox.received
        message = received.message
        assert received.rcpt_tos == ("alice@contoso.com",)
        assert received.encrypted
        assert message["Subject"] == "Your password reset code"
        assert message["Auto-Submitted"] == "auto-generated"
        code = code_in(message)
        html = message.get_body(("html",))
        assert html is not None
        assert code in html.get_content()
        done = await chat.say(code)
        temporary = (done[0].text or "").split("\n\n")[1]
        assert await bot.password_is("alice", temporary)
        await bot.runtime.background.drain()
        notice = mail.mailbox.received[-1].message
        assert notice["To"] == "alice@contoso.com"
        assert notice["Subject"] == "Your password was reset"
        words = text_of(notice)
        assert "alice" in words
        assert "the IT helpdesk" in words
        assert code not in notice.as_string()
        assert temporary not in notice.as_string()
        assert "http" not in words
        sent = [entry for entry in bot.audit() if entry["event"] == "code.sent"]
        assert [(e["provider"], e["message_id"]) for e in sent] == [
            ("smtp", message["Message-ID"].strip("<>"))
        ]
        trail = bot.audit_path.read_text()
        assert code not in trail
        assert temporary not in trail
        assert LOGIN[1] not in trail


async def test_a_refused_recipient_is_told_costs_nothing_and_another_method_works(
    make_bot: MakeBot, mail: SmtpServer
) -> None:
    mail.mailbox.refused.add("bob@contoso.com")
    async with smtp_bot(make_bot, mail) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        replies = await chat.say("email")
        text = "\n".join(reply.text or "" for reply in replies)
        assert "I've emailed" not in text
        assert "couldn't send a code to b***@contoso.com" in text
        assert "Email a code" not in text
        assert "Text a code" in text
        assert await bot.runtime.store.count(f"send-email:{BOB}", window=600) == 0
        [failed] = [e for e in bot.audit() if e["event"] == "code.send_failed"]
        assert failed["method"] == "email"
        assert "550" in failed["reason"]
        assert failed["maybe_sent"] is False
        assert "I've texted a 6-digit code" in await chat.text("sms")
        assert "temporary password" in await chat.text(bot.outbox.last_code())


async def test_a_dead_mail_server_with_no_other_method_hands_over_politely(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    email = {
        "kind": "smtp",
        "host": HOST,
        "port": free_port(),
        "security": "none",
        "sender": "sspr@contoso.com",
    }
    config = {"email": email, "tries": 1, "outbox": {"console": False}}
    async with make_bot(delivery=config, verification={"methods": ["email"]}) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        text = await chat.text("email")
        assert "couldn't send a code to b***@contoso.com" in text
        assert "Please contact the IT helpdesk" in text
        assert "I've emailed" not in text
        assert await bot.runtime.store.count(f"send-email:{BOB}", window=600) == 0
        assert [e["reason"] for e in bot.audit() if e["event"] == "reset.escalated"] == [
            "undelivered"
        ]


async def test_a_mail_that_may_have_gone_keeps_its_code(
    make_bot: MakeBot, mail: SmtpServer
) -> None:
    mail.mailbox.after_data = "drop"
    async with smtp_bot(make_bot, mail) as bot:
        chat = bot.chat("alice")
        await chat.text("reset")
        text = await chat.text("email")
        assert "I've emailed a 6-digit code" in text
        assert "it may still arrive" in text
        [received] = mail.mailbox.received  # sent once, never again
        alice = await bot.runtime.directory.find("alice")
        assert alice is not None
        assert await bot.runtime.store.count(f"send-email:{alice.id}", window=600) == 1
        assert "temporary password" in await chat.text(code_in(received.message))


async def test_a_typed_name_whose_mail_bounces_reads_like_a_made_up_one(
    make_bot: MakeBot, mail: SmtpServer
) -> None:
    mail.mailbox.refused.add("bob@contoso.com")
    async with smtp_bot(make_bot, mail, verification={"methods": ["email", "sms"]}) as bot:
        transcripts = []
        for name in ("bob", "ghost"):
            chat = bot.chat()
            said = [await chat.text(text) for text in ("reset", name, "123456", "other")]
            await bot.runtime.background.drain()
            transcripts.append(said)
        assert transcripts[0] == transcripts[1]
        assert mail.mailbox.received == []
        assert [e["method"] for e in bot.audit() if e["event"] == "code.send_failed"] == ["email"]


def _directory_with_admins(data_dir: Path, *admins: str) -> None:
    demo = yaml.safe_load(files("config").joinpath("demo-directory.yaml").read_text())
    for user in demo["users"]:
        if user["username"] in admins:
            user["admin"] = True
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "directory.yaml"
    path.write_text(yaml.safe_dump(demo, sort_keys=False))
    path.chmod(0o600)


async def adele_resets(bot: Bot) -> None:
    chat = bot.chat("adele")
    await chat.text("reset")
    await chat.text("app")
    await chat.text(bot.totp("adele"))
    await chat.text("email")
    assert "temporary password" in await chat.text(bot.outbox.last_code())
    await bot.runtime.background.drain()


def notices(bot: Bot) -> dict[str, str]:
    return {
        m["to"]: m["subject"]
        for m in bot.outbox.messages()
        if m["subject"] != "Your password reset code"
    }


async def test_an_admins_reset_is_told_to_the_directorys_admins_and_the_configured_ones(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    _directory_with_admins(tmp_path / "data", "adele", "bob")
    configured = {"admin_recipients": ["secops@contoso.com", "BOB@contoso.com"]}
    async with make_bot(notifications=configured) as bot:
        await adele_resets(bot)
        assert notices(bot) == {
            "adele@contoso.com": "Your password was reset",
            "bob@contoso.com": "An administrator's password was reset",
            "secops@contoso.com": "An administrator's password was reset",
        }
        told = [m for m in bot.outbox.messages() if m["to"] == "bob@contoso.com"]
        assert "administrator account adele" in told[0]["body"]
        assert "from a chat channel" in told[0]["body"]  # the test adapter's channel


async def test_notices_follow_their_two_switches(make_bot: MakeBot, tmp_path: Path) -> None:
    _directory_with_admins(tmp_path / "data", "adele", "bob")
    async with make_bot(notifications={"users": False}) as bot:
        await adele_resets(bot)
        assert notices(bot) == {"bob@contoso.com": "An administrator's password was reset"}
    (tmp_path / "data" / "outbox.jsonl").unlink()
    async with make_bot(notifications={"admins": False}) as bot:
        await adele_resets(bot)
        assert notices(bot) == {"adele@contoso.com": "Your password was reset"}


def test_production_refuses_the_outbox_unless_told_otherwise() -> None:
    problem = outbox_in_production(DeliverySection())
    assert problem is not None
    assert "email, sms, voice" in problem
    allowed = DeliverySection(allow_outbox_in_production=True)
    assert outbox_in_production(allowed) is None
    smtp = {"kind": "smtp", "host": "smtp.contoso.com", "sender": "sspr@contoso.com"}
    twilio = {"kind": "twilio", "account_sid": "AC" + "a" * 32, "from_number": "+14255550100"}
    configured = DeliverySection.model_validate({"email": smtp, "sms": twilio, "voice": twilio})
    assert outbox_in_production(configured) is None
    partly = DeliverySection.model_validate({"email": smtp})
    assert "sms, voice" in (outbox_in_production(partly) or "")
