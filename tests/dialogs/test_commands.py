"""Command words: every language has a word for every command, no word means two, and a
whole message in any of the packaged languages is the command it names."""

import pytest

from dialogs.catalog import packaged_locales
from dialogs.commands import COMMAND_WORDS, command


def test_every_packaged_language_has_words_for_every_command() -> None:
    assert set(COMMAND_WORDS) == packaged_locales()
    for language, commands in COMMAND_WORDS.items():
        assert set(commands) == set(COMMAND_WORDS["en"]), language
        assert all(commands.values()), language


def test_no_word_means_two_commands() -> None:
    meaning: dict[str, str] = {}
    for commands in COMMAND_WORDS.values():
        for name, words in commands.items():
            for word in words:
                assert meaning.setdefault(word, name) == name, word


def test_every_word_is_its_command() -> None:
    for commands in COMMAND_WORDS.values():
        for name, words in commands.items():
            assert all(command(word) == name for word in words), name


@pytest.mark.parametrize(
    ("said", "meant"),
    [
        ("Abbrechen", "cancel"),
        ("annuler", "cancel"),
        ("Cancelar.", "cancel"),
        ("AYUDA!", "help"),
        ("hilfe", "help"),
        ("agente", "agent"),
        ("Otro método", "other"),
        ("autre", "other"),
        ("reenviar", "resend"),
        ("Nochmal", "resend"),
        ("registrar", "register"),
        ("enregistrer", "register"),
        ("cancelar la reserva", None),
        ("otro día", None),
    ],
)
def test_a_whole_message_is_a_command_in_any_language(said: str, meant: str | None) -> None:
    assert command(said) == meant
