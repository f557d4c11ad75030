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
    assert catalog.text("help", "de-DE") == packaged_messages("de")["help"]
    assert catalog.text("cancelled", "sv").startswith("Cancelled.")


def test_a_locale_without_the_message_hears_the_default_locale_then_english() -> None:
    catalog = Catalog({"nl": {"cancelled": "Gestopt."}}, default_locale="es")
    assert catalog.text("cancelled", "nl-BE") == "Gestopt."
    assert catalog.text("help", "nl") == packaged_messages("es")["help"]
    assert catalog.text("help", "sv-SE") == packaged_messages("es")["help"]
    assert catalog.text("help", "en-GB").startswith("I reset forgotten passwords")
    assert catalog.default_locale == "es"


def test_the_catalog_says_which_locales_it_speaks() -> None:
    catalog = Catalog({"nl": {"cancelled": "Gestopt."}})
    assert all(catalog.speaks(locale) for locale in ("es_MX", "NL-be", "de"))
    assert not catalog.speaks("sv")


def test_the_spanish_catalog_speaks_spanish() -> None:
    catalog = Catalog()
    assert catalog.text("cancelled", "es-AR").startswith("Cancelado.")
    assert catalog.text("webchat_send", "es") == "Enviar"
    assert "«cancelar»" in catalog.text("help", "es")


def test_overrides_must_name_real_messages_and_placeholders() -> None:
    problems = override_problems(
        {"de": {"nope": "x", "greeting": "Hallo {name} {secret}", "cancelled": "ok {"}}
    )
    assert problems[0] == "de.nope: no such message"
    assert problems[1] == "de.greeting: unknown placeholder secret"
    assert problems[2].startswith("de.cancelled:")


def test_positional_nested_and_attribute_placeholders_are_refused() -> None:
    problems = override_problems(
        {
            "es": {
                "help": "Ayuda {}",
                "code_wrong": "{0}",
                "too_long": "{max:{width}}",
                "greeting": "Hola {name.__class__}",
            },
            "es MX": {"help": "x"},
        }
    )
    assert problems == [
        "es.help: unknown placeholder {}",
        "es.code_wrong: unknown placeholder 0",
        "es.too_long: unknown placeholder max, width",
        "es.greeting: unknown placeholder name.__class__",
        "es MX: not a locale tag such as de or de-AT",
    ]


def test_an_override_may_leave_a_placeholder_out() -> None:
    assert override_problems({"es": {"greeting": "Hola. Vamos a comprobar que es usted."}}) == []


def test_the_pages_words_are_packaged_in_german_and_french() -> None:
    catalog = Catalog()
    assert {"en", "de", "fr", "es"} <= packaged_locales()
    assert catalog.text("webchat_send", "de") == "Senden"
    assert catalog.text("webchat_send", "fr-CA") == "Envoyer"
    assert catalog.text("page_show_password", "de_AT") == "Passwort anzeigen"
    assert catalog.text("page_back_to_channel", "fr", channel="Slack") == (
        "Retournez dans Slack pour continuer."
    )
    assert catalog.text("webchat_send", "sv") == "Send"


def test_a_message_of_an_admins_own_locale_not_overridden_is_said_in_english() -> None:
    assert Catalog({"nl": {"help": "Hulp."}}).text("cancelled", "nl").startswith("Cancelled.")


def test_an_override_wins_over_the_packaged_translation() -> None:
    catalog = Catalog({"de": {"page_show_password": "Zeigen"}, "de-at": {"webchat_send": "Los"}})
    assert catalog.text("page_show_password", "de-AT") == "Zeigen"
    assert catalog.text("webchat_send", "de-AT") == "Los"
    assert catalog.text("webchat_send", "de-DE") == "Senden"


def test_an_english_override_serves_locales_that_lack_the_message() -> None:
    catalog = Catalog({"en": {"cancelled": "Stopped.", "webchat_send": "Go"}})
    assert catalog.text("cancelled", "nl") == "Stopped."
    assert catalog.text("webchat_send", "en-GB") == "Go"
    assert catalog.text("webchat_send", "de") == "Senden"  # a translation beats English


def test_the_catalog_knows_packaged_and_overridden_locales() -> None:
    assert Catalog({"NL": {"cancelled": "Gestopt."}}).locales == packaged_locales() | {"nl"}


def test_a_reply_holds_one_text() -> None:
    assert Catalog().reply("webchat_send", "fr") == Reply("Envoyer")


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_translation_has_every_key_with_the_english_placeholders(locale: str) -> None:
    english = packaged_messages()
    translated = packaged_messages(locale)
    assert sorted(set(english) - set(translated)) == [], f"{locale} misses these"
    assert sorted(set(translated) - set(english)) == [], f"{locale} has no English for these"
    for key, template in translated.items():
        assert placeholders(template) == placeholders(english[key]), f"{locale}.{key}"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_translations_pass_the_check_overrides_pass(locale: str) -> None:
    assert override_problems({locale: packaged_messages(locale)}) == []
