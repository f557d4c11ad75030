"""The message catalog: the packaged locales, admins' overrides, and the order they win in."""

import pytest

from dialogs.catalog import (
    DEFAULT_LOCALE,
    Catalog,
    override_problems,
    packaged_locales,
    packaged_messages,
    placeholders,
)
from dialogs.replies import Reply

TRANSLATED = sorted(packaged_locales() - {DEFAULT_LOCALE})


def test_messages_fall_back_from_region_to_language_to_english() -> None:
    catalog = Catalog({"de": {"cancelled": "Abgebrochen."}, "de-at": {"help": "Hilfe!"}})
    assert catalog.text("cancelled", "de-AT") == "Abgebrochen."
    assert catalog.text("help", "de-AT") == "Hilfe!"
    assert catalog.text("help", "de-DE").startswith("I reset forgotten passwords")
    assert catalog.text("cancelled", "fr").startswith("Cancelled.")


def test_overrides_must_name_real_messages_and_placeholders() -> None:
    problems = override_problems(
        {"de": {"nope": "x", "greeting": "Hallo {name} {secret}", "cancelled": "ok {"}}
    )
    assert problems[0] == "de.nope: no such message"
    assert problems[1] == "de.greeting: unknown placeholder secret"
    assert problems[2].startswith("de.cancelled:")


def test_the_pages_words_are_packaged_in_german_and_french() -> None:
    catalog = Catalog()
    assert {"en", "de", "fr"} <= packaged_locales()
    assert catalog.text("webchat_send", "de") == "Senden"
    assert catalog.text("webchat_send", "fr-CA") == "Envoyer"
    assert catalog.text("page_show_password", "de_AT") == "Passwort anzeigen"
    assert catalog.text("page_back_to_channel", "fr", channel="Slack") == (
        "Retournez dans Slack pour continuer."
    )
    assert catalog.text("webchat_send", "sv") == "Send"


def test_a_message_not_translated_is_said_in_english() -> None:
    assert "cancelled" not in packaged_messages("de")
    assert Catalog().text("cancelled", "de").startswith("Cancelled.")


def test_an_override_wins_over_the_packaged_translation() -> None:
    catalog = Catalog({"de": {"page_show_password": "Zeigen"}, "de-at": {"webchat_send": "Los"}})
    assert catalog.text("page_show_password", "de-AT") == "Zeigen"
    assert catalog.text("webchat_send", "de-AT") == "Los"
    assert catalog.text("webchat_send", "de-DE") == "Senden"


def test_an_english_override_serves_locales_that_lack_the_message() -> None:
    catalog = Catalog({"en": {"cancelled": "Stopped.", "webchat_send": "Go"}})
    assert catalog.text("cancelled", "de") == "Stopped."
    assert catalog.text("webchat_send", "en-GB") == "Go"
    assert catalog.text("webchat_send", "de") == "Senden"  # a translation beats English


def test_the_catalog_knows_packaged_and_overridden_locales() -> None:
    assert Catalog({"NL": {"cancelled": "Gestopt."}}).locales == packaged_locales() | {"nl"}


def test_a_reply_holds_one_text() -> None:
    assert Catalog().reply("webchat_send", "fr") == Reply("Envoyer")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_name_english_keys_and_their_placeholders(locale: str) -> None:
    english = packaged_messages()
    for key, template in packaged_messages(locale).items():
        assert key in english, f"{locale}.{key}"
        assert placeholders(template) == placeholders(english[key]), f"{locale}.{key}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_pass_the_check_overrides_pass(locale: str) -> None:
    assert override_problems({locale: packaged_messages(locale)}) == []
