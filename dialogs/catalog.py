"""The bot's messages per locale: the packaged English catalog plus admins' overrides."""

import string
from collections.abc import Mapping
from importlib.resources import files
from typing import Any

import yaml

DEFAULT_LOCALE = "en"


def packaged_messages() -> dict[str, str]:
    text = files("config").joinpath("messages.yaml").read_text(encoding="utf-8")
    catalog: dict[str, dict[str, str]] = yaml.safe_load(text)
    return catalog[DEFAULT_LOCALE]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def override_problems(overrides: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Why each override cannot be used, as `locale.key: problem` lines (empty when fine)."""
    defaults = packaged_messages()
    problems: list[str] = []
    for locale, messages in overrides.items():
        for key, template in messages.items():
            if key not in defaults:
                problems.append(f"{locale}.{key}: no such message")
                continue
            try:
                extra = placeholders(template) - placeholders(defaults[key])
            except ValueError as error:
                problems.append(f"{locale}.{key}: {error}")
                continue
            if extra:
                names = ", ".join(sorted(extra))
                problems.append(f"{locale}.{key}: unknown placeholder {names}")
    return problems


class Catalog:
    """Looks a message up by key for a locale: `de-AT`, then `de`, then English."""

    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._locales: dict[str, dict[str, str]] = {DEFAULT_LOCALE: packaged_messages()}
        for locale, messages in (overrides or {}).items():
            self._locales.setdefault(locale.casefold(), {}).update(messages)

    def text(self, key: str, locale: str, /, **values: Any) -> str:
        template = self._template(key, locale)
        return template.format(**values) if values else template

    def _template(self, key: str, locale: str) -> str:
        wanted = locale.casefold().replace("_", "-")
        for candidate in (wanted, wanted.split("-")[0]):
            messages = self._locales.get(candidate)
            if messages and key in messages:
                return messages[key]
        return self._locales[DEFAULT_LOCALE][key]
