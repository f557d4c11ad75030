"""The bot's messages per locale: the packaged catalog (English, German, French and Spanish,
each complete) plus admins' overrides."""

import re
import string
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Any

import yaml

from dialogs.replies import Reply

DEFAULT_LOCALE = "en"
_TAG = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")


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
    """The fields `template` fills, nested ones in a format spec (`{min:{width}}`) and
    positional ones (`{}` as the empty name, `{0}`) included: the bot fills only named
    fields, so any other is a message that would fail when said."""
    found: set[str] = set()
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is not None:
            found.add(name)
        if spec:
            found |= placeholders(spec)
    return found


def override_problems(overrides: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Why each override cannot be used, as `locale.key: problem` lines (empty when fine).

    Checked against English, which has every key: whatever a message is said in, the bot
    fills the English message's placeholders. An override may leave one out."""
    defaults = packaged_messages()
    problems: list[str] = []
    for locale, messages in overrides.items():
        if not _TAG.match(locale):
            problems.append(f"{locale}: not a locale tag such as de or de-AT")
            continue
        for key, template in messages.items():
            problem = _template_problem(template, defaults.get(key))
            if problem:
                problems.append(f"{locale}.{key}: {problem}")
    return problems


def _template_problem(template: str, english: str | None) -> str | None:
    if english is None:
        return "no such message"
    try:
        extra = placeholders(template) - placeholders(english)
    except ValueError as error:
        return str(error)
    if extra:
        return "unknown placeholder " + ", ".join(sorted(name or "{}" for name in extra))
    return None


class Catalog:
    """Looks a message up by key for a locale: the admins' `de-AT`, then their `de`, then
    the packaged `de-AT` and `de`, so an override wins over a packaged translation; the same
    for the default locale when the wanted one has no such message (a Swedish Teams client
    is answered in the language the admins chose), and English last.

    `default_locale` is the config's `default_locale`: also what a channel that names no
    locale the catalog speaks (a browser asking for Swedish) is given."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        default_locale: str = DEFAULT_LOCALE,
    ) -> None:
        self._overrides: dict[str, dict[str, str]] = {}
        for locale, messages in (overrides or {}).items():
            self._overrides.setdefault(_normal(locale), {}).update(messages)
        self._packaged = {locale: packaged_messages(locale) for locale in packaged_locales()}
        self.default_locale = _normal(default_locale)

    @property
    def locales(self) -> frozenset[str]:
        """Every locale with a message of its own here, packaged or overridden (lower case)."""
        return frozenset(self._packaged) | frozenset(self._overrides)

    def speaks(self, locale: str) -> bool:
        """Whether `locale` or its language has messages of its own here."""
        tag = _normal(locale)
        return bool({tag, tag.split("-")[0]} & self.locales)

    def text(self, key: str, locale: str, /, **values: Any) -> str:
        template = self._template(key, locale)
        return template.format(**values) if values else template

    def reply(self, key: str, locale: str) -> Reply:
        """A standalone message (for answers a channel gives without running a turn)."""
        return Reply(self.text(key, locale))

    def _template(self, key: str, locale: str) -> str:
        for tag in (_normal(locale), self.default_locale, DEFAULT_LOCALE):
            language = tag.split("-")[0]
            for messages in (
                self._overrides.get(tag),
                self._overrides.get(language),
                self._packaged.get(tag),
                self._packaged.get(language),
            ):
                if messages and key in messages:
                    return messages[key]
        raise KeyError(key)


def _normal(locale: str) -> str:
    """`de_AT` and `DE-at` as `de-at`: channels and admins write tags either way."""
    return locale.casefold().replace("_", "-")
