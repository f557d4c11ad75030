"""Small policy pieces: masking, durations, the password check."""

import pytest

from adapters.pwned import NotChecked
from dialogs.durations import parse_duration
from dialogs.masking import mask_email, mask_phone
from dialogs.password_policy import PasswordPolicy
from dialogs.settings import PasswordSettings


@pytest.mark.parametrize(
    ("number", "masked"),
    [("+1 425 555 4321", "+1 *** *** 4321"), ("0170 1234567", "*** *** 4567"), ("12", "***")],
)
def test_phones_show_only_the_last_four_digits(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


def test_emails_show_the_first_letter_and_domain() -> None:
    assert mask_email("alice.wilber@contoso.com") == "a***@contoso.com"
    assert mask_email("not-an-address") == "***"


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("5m", 300), ("24h", 86400), (30, 30)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "-1m", 0, True, "m"])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match=r"duration|longer than zero"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "password_too_short"),
        ("x" * 300, "password_too_long"),
        ("Password1!", "password_common"),
        ("!!qwerty123", "password_common"),
        ("I love Contoso so much", "password_banned"),
        ("alice-in-wonderland", "password_personal"),
    ],
)
async def test_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    policy = PasswordPolicy(PasswordSettings(min_length=8, banned_words=["contoso"]), NotChecked())
    refusal = await policy.refusal(password, ["alice", "Alice", "Wilber"])
    assert refusal is not None
    assert refusal.message == reason


async def test_a_long_passphrase_passes_without_composition_rules() -> None:
    policy = PasswordPolicy(PasswordSettings(), NotChecked())
    assert await policy.refusal("correct horse battery staple", ["alice"]) is None


async def test_temporary_passwords_are_long_mixed_and_pass_the_policy() -> None:
    policy = PasswordPolicy(PasswordSettings(temporary_length=20), NotChecked())
    generated = {policy.temporary() for _ in range(50)}
    assert len(generated) == 50
    for password in generated:
        assert len(password) == 20
        assert any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)
        assert await policy.refusal(password, ["alice"]) is None
