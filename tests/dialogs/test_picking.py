"""What people type at a menu and after a finished reset, read as they mean it."""

import pytest

from dialogs.enrolment import said_done
from dialogs.picking import asks_to_start, pick

OFFERED = ["sms", "voice", "email", "authenticator"]
LABELS = {
    "sms": "Text a code to +1 *** *** 0105",
    "voice": "Call +1 *** *** 0105 with a code",
    "email": "Email a code to b***@contoso.com",
    "authenticator": "Code from my authenticator app",
}


@pytest.mark.parametrize(
    ("said", "picked"),
    [
        ("2", "voice"),
        ("#3", "email"),
        ("text my phone", "sms"),
        ("phone", "voice"),
        ("Call +1 *** *** 0105 with a code", "voice"),
        ("totp", "authenticator"),
        ("5", None),
        ("email or text", None),
        ("questions", None),
        ("", None),
        ("Anruf", "voice"),
        ("per E-Mail", "email"),
        ("un appel", "voice"),
        ("par courriel", "email"),
        ("texto", "sms"),
        ("llamada", "voice"),
        ("por correo", "email"),
        ("la aplicación", "authenticator"),
        ("teléfono", "voice"),
    ],
)
def test_a_menu_answer_names_one_offered_choice_or_none(said: str, picked: str | None) -> None:
    assert pick(said, OFFERED, LABELS) == picked


@pytest.mark.parametrize(
    ("said", "starts"),
    [
        ("reset", True),
        ("Please reset my password", True),
        ("I've forgotten it again", True),
        ("I'm locked out", True),
        ("new password", True),
        ("thanks", False),
        ("Did it work?", False),
        ("hi", False),
        ("my password still fails", False),
        ("Passwort vergessen", True),
        ("Ich habe mein Passwort vergessen", True),
        ("bitte zurücksetzen", True),
        ("J'ai oublié mon mot de passe", True),
        ("réinitialiser", True),
        ("Olvidé mi contraseña", True),
        ("He olvidado mi contraseña", True),
        ("danke", False),
        ("merci", False),
        ("gracias", False),
        ("Passwort geändert?", False),
    ],
)
def test_only_a_request_for_a_reset_starts_one(said: str, starts: bool) -> None:
    assert asks_to_start(said) is starts


@pytest.mark.parametrize(
    ("said", "done"),
    [("done", True), ("Fertig!", True), ("rien", True), ("nada", True), ("Nein.", True)],
)
def test_finished_is_understood_in_every_language(said: str, done: bool) -> None:
    assert said_done(said) is done
    assert not said_done("email")
