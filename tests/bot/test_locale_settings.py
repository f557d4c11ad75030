"""The config's locale settings: `default_locale` must be a locale with messages, and a
message override that names an unknown key or placeholder is refused at load, named."""

from pathlib import Path

import pytest

from bot.config_file import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sspr.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_default_locale_with_messages_loads(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "default_locale: es-MX\n"))
    assert settings.default_locale == "es-MX"
    nl = "default_locale: nl\nmessages:\n  nl:\n    cancelled: Gestopt.\n"
    assert load_settings(write(tmp_path, nl)).default_locale == "nl"


def test_a_default_locale_without_messages_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="default_locale 'sv' has no messages"):
        load_settings(write(tmp_path, "default_locale: sv\n"))


def test_an_override_with_an_unknown_placeholder_is_refused_by_key(tmp_path: Path) -> None:
    text = 'messages:\n  es:\n    greeting: "Hola {nombre}"\n    nope: "x"\n'
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, text))
    said = str(refused.value)
    assert "es.greeting: unknown placeholder nombre" in said
    assert "es.nope: no such message" in said
