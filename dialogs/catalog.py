"""The bot's messages per locale: the packaged catalog (English complete, other locales in
part) plus admins' overrides."""

import string
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from dialogs.replies import Reply

DEFAULT_LOCALE = "en"


@cache
def _packaged() -> Mapping[str, Mapping[str, str]]:
    """Read once per process: the web chat asks for the packaged locales on every request."""
    text = files("config").joinpath("messages.yaml").read_text(encoding="utf-8")
    catalog: dict[str, dict[str, str]] = yaml.safe_load(text)
    return catalog


def packaged_messages(locale: str = DEFAULT_LOCALE) -> dict[str, str]:
    """The packaged messages of one locale, as a copy (empty when none is packaged)."""
    return dict(_packaged().get(locale, {}))


def packaged_locales() -> frozenset[str]:
    return frozenset(_packaged())


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def override_problems(overrides: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Why each override cannot be used, as `locale.key: problem` lines (empty when fine).

    Checked against English, which has every key: whatever a message is said in, the bot
    fills the English message's placeholders."""
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
    """Looks a message up by key for a locale: the admins' `de-AT`, then their `de`, then
    the packaged `de-AT` and `de`, then English (the admins', then the packaged); so an
    override wins over a packaged translation."""

    def __init__(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._overrides: dict[str, dict[str, str]] = {}
        for locale, messages in (overrides or {}).items():
            self._overrides.setdefault(locale.casefold(), {}).update(messages)
        self._packaged = {locale: packaged_messages(locale) for locale in packaged_locales()}

    @property
    def locales(self) -> frozenset[str]:
        """Every locale with a message of its own here, packaged or overridden (lower case)."""
        return frozenset(self._packaged) | frozenset(self._overrides)

    def text(self, key: str, locale: str, /, **values: Any) -> str:
        template = self._template(key, locale)
        return template.format(**values) if values else template

    def reply(self, key: str, locale: str) -> Reply:
        """A standalone message (for answers a channel gives without running a turn)."""
        return Reply(self.text(key, locale))

    def _template(self, key: str, locale: str) -> str:
        wanted = locale.casefold().replace("_", "-")
        language = wanted.split("-")[0]
        for messages in (
            self._overrides.get(wanted),
            self._overrides.get(language),
            self._packaged.get(wanted),
            self._packaged.get(language),
            self._overrides.get(DEFAULT_LOCALE),
        ):
            if messages and key in messages:
                return messages[key]
        return self._packaged[DEFAULT_LOCALE][key]
