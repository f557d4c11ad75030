"""One CAPTCHA answer for an hour of resets.

The attack: a conversation that passed the CAPTCHA once was trusted for an hour, so one
solved challenge let a script start reset after reset in it (`reset`, a name, `cancel`,
again), each typed name sending a code to whoever owns it. What holds: a solved CAPTCHA
covers one reset start, so one typed name; the next reset needs a new answer.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.webchat import CAPTCHA_SECRET_VARIABLE
from state import FrozenClock
from tests.stand_ins.captcha import SITE_KEY, CaptchaStandIn, captcha_stand_in
from tests.support.webchat import Served, serving_webchat

ASK_ACCOUNT = "Which account is it?"


@pytest.fixture(name="provider")
async def provider_fixture() -> AsyncIterator[CaptchaStandIn]:
    async with captcha_stand_in() as stand_in:
        yield stand_in


@pytest.fixture(name="served")
async def served_fixture(
    tmp_path: Path, clock: FrozenClock, provider: CaptchaStandIn
) -> AsyncIterator[Served]:
    """On SQLite, whose every call leaves the event loop, so parallel requests interleave."""
    webchat = {
        "captcha": {"provider": "turnstile", "site_key": SITE_KEY, "verify_url": provider.url},
        "rate_limit": {"requests": 100},
    }
    environ = {CAPTCHA_SECRET_VARIABLE: provider.secret}
    data = tmp_path / "data"
    async with serving_webchat(
        data, clock, webchat, environ, state={"backend": "sqlite"}
    ) as served:
        yield served


def typed_names(served: Served) -> int:
    """Names taken so far: each one opens a blind challenge."""
    audit = Path(served.runtime.settings.data_dir) / "audit.jsonl"
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    return sum(1 for e in events if e["event"] == "challenge.issued" and e.get("blind"))


async def test_a_second_reset_needs_a_second_answer(
    served: Served, provider: CaptchaStandIn
) -> None:
    browser = await served.browser()
    assert ASK_ACCOUNT in await browser.ok("reset", captcha_token=provider.solve("one"))
    await browser.ok("bob")  # the one name this answer covers
    await browser.ok("cancel")
    sent = len(served.outbox.messages())

    again = await browser.say("reset")

    assert again.status == 403
    assert again.json["error"] == "captcha_required"
    for name in ("carol", "dave"):  # nothing of what follows is taken as a name either
        refused = await browser.say(name)
        assert refused.status == 403
        assert refused.json["error"] == "captcha_required"
    await served.runtime.background.drain()
    assert len(served.outbox.messages()) == sent
    assert ASK_ACCOUNT in await browser.ok("reset", captcha_token=provider.solve("two"))
    await browser.ok("carol")
    await browser.ok("cancel")
    assert (await browser.say("reset")).json["error"] == "captcha_required"
    assert len(provider.received) == 2


async def test_an_answer_waits_for_the_reset_it_covers(
    served: Served, provider: CaptchaStandIn
) -> None:
    browser = await served.browser()
    assert "cancel" in await browser.ok("help", captcha_token=provider.solve("one"))
    assert ASK_ACCOUNT in await browser.ok("reset")  # the answer was not spent on help
    await browser.ok("bob")
    await browser.ok("help")  # within the reset it covers, no new answer is asked for
    assert "other" in await browser.ok("other")
    await browser.ok("cancel")
    assert (await browser.say("reset")).json["error"] == "captcha_required"


async def test_an_ended_reset_does_not_pass_its_answer_on(
    served: Served, provider: CaptchaStandIn, clock: FrozenClock
) -> None:
    browser = await served.browser()
    await browser.ok("reset", captcha_token=provider.solve("one"))
    await browser.ok("bob")
    clock.advance(15 * 60 + 1)  # the reset times out (its record is still kept)
    assert "took too long" in await browser.ok("123456")

    after = await browser.say("reset")

    assert after.status == 403
    assert after.json["error"] == "captcha_required"


async def test_parallel_messages_do_not_stretch_one_answer(
    served: Served, provider: CaptchaStandIn
) -> None:
    browser = await served.browser()
    await browser.ok("reset", captcha_token=provider.solve("one"))
    answers = []

    for line in ["bob", "cancel", "reset", "carol", "cancel", "reset", "dave"]:
        answers += await asyncio.gather(*(browser.say(line) for _ in range(3)))

    assert {answer.status for answer in answers} <= {200, 403, 409}
    assert typed_names(served) == 1
    for answer in answers:
        if answer.status == 409:  # another message of the conversation was being answered
            assert answer.json["error"] == "busy"
