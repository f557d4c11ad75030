"""The token on /api/messages is the SDK validator's to check, once per token: what a
token proved is remembered by its hash until its own expiry, and nothing else is."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    JwtTokenValidator,
)

from bot.botframework.auth import ChannelKeys, signing_keys_from
from bot.botframework.credentials import from_environment
from bot.botframework.token_check import INVALID, TokenCheck, TokenRefused
from tests.support.bot_framework_tokens import ChannelKeysStandIn, channel_keys_stand_in, mint
from tests.support.teams import APP_ID, CHANNEL_KEY, ENVIRON, TEAMS_ONLY_KEY

SERVICE_URL = "https://smba.trafficmanager.net/emea/"


@dataclass
class Counted:
    """The SDK's validator, counting the tokens it is asked to check."""

    validator: JwtTokenValidator
    checked: list[str] = field(default_factory=list)

    async def __call__(self, token: str) -> ClaimsIdentity:
        self.checked.append(token)
        return await self.validator.validate_token(token)


@dataclass
class Clock:
    at: float = 0.0

    def __call__(self) -> float:
        return self.at


@pytest.fixture(name="keys")
async def keys_fixture() -> AsyncIterator[ChannelKeysStandIn]:
    async with channel_keys_stand_in([CHANNEL_KEY, TEAMS_ONLY_KEY]) as stand_in:
        keys = ChannelKeys(stand_in.metadata_url, None)
        with signing_keys_from(keys):
            yield stand_in
        await keys.close()


def checker(clock: Clock) -> tuple[TokenCheck, Counted]:
    configuration = from_environment(ENVIRON).configuration
    counted = Counted(JwtTokenValidator(configuration))
    return TokenCheck(configuration, now=clock, validate=counted), counted


def token() -> str:
    return mint(CHANNEL_KEY, audience=APP_ID, service_url=SERVICE_URL)


async def test_a_token_is_checked_once_for_its_lifetime(keys: ChannelKeysStandIn) -> None:
    clock = Clock()
    check, counted = checker(clock)
    sent = token()
    first = await check.claims(f"Bearer {sent}")
    again = await check.claims(f"Bearer {sent}  ")  # trailing space, as the SDK tolerates
    assert isinstance(first, ClaimsIdentity)
    assert again is first
    assert counted.checked == [sent]


async def test_past_its_expiry_a_token_is_checked_again(keys: ChannelKeysStandIn) -> None:
    clock = Clock()
    check, counted = checker(clock)
    sent = token()
    claims = await check.claims(f"Bearer {sent}")
    assert isinstance(claims, ClaimsIdentity)
    clock.at = float(claims.claims["exp"])
    await check.claims(f"Bearer {sent}")
    assert counted.checked == [sent, sent]


async def test_a_token_one_character_off_is_checked_and_refused(
    keys: ChannelKeysStandIn,
) -> None:
    check, counted = checker(Clock())
    sent = token()
    assert isinstance(await check.claims(f"Bearer {sent}"), ClaimsIdentity)
    forged = sent[:-2] + ("A" if sent[-2] != "A" else "B") + sent[-1]
    assert await check.claims(f"Bearer {forged}") == TokenRefused(401, INVALID)
    assert counted.checked == [sent, forged]


async def test_a_refused_token_is_never_remembered(keys: ChannelKeysStandIn) -> None:
    check, counted = checker(Clock())
    wrong_audience = mint(CHANNEL_KEY, audience="someone-else", service_url=SERVICE_URL)
    for _ in range(2):
        assert await check.claims(f"Bearer {wrong_audience}") == TokenRefused(401, INVALID)
    assert counted.checked == [wrong_audience, wrong_audience]


@pytest.mark.parametrize("header", ["", "Bearer", "Basic abc", "Bearer a b", "bearer"])
async def test_a_malformed_header_is_refused_unchecked(
    keys: ChannelKeysStandIn, header: str
) -> None:
    check, counted = checker(Clock())
    assert await check.claims(header) == TokenRefused(401, INVALID)
    assert counted.checked == []


async def test_without_a_header_only_development_mode_lets_in(keys: ChannelKeysStandIn) -> None:
    check, _ = checker(Clock())
    assert await check.claims(None) == TokenRefused(401, "Authorization header not found")
    development = TokenCheck(from_environment({}).configuration)
    claims = await development.claims(None)
    assert isinstance(claims, ClaimsIdentity)
    assert claims.allow_anonymous
