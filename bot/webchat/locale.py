"""The web chat's locale, from the browser's Accept-Language: nobody is signed in there, so
the browser's preference is all there is to go by."""

import re
from collections.abc import Collection

from dialogs.catalog import DEFAULT_LOCALE

_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
MAX_LANGUAGES = 20


def best_locale(
    accept_language: str | None, available: Collection[str], default: str = DEFAULT_LOCALE
) -> str:
    """The browser's most preferred locale that the catalog speaks (`available`: its
    packaged and overridden locales, `Catalog.locales`). The full tag is kept when it is
    known (`de-at`), else its language (`de`); `default` (the config's `default_locale`)
    when none fits."""
    known = {DEFAULT_LOCALE, *(locale.casefold() for locale in available)}
    for tag in _preferences(accept_language or ""):
        if tag in known:
            return tag
        if tag.split("-")[0] in known:
            return tag.split("-")[0]
    return default


def _preferences(header: str) -> list[str]:
    """The header's tags, most preferred first; malformed ones and `q=0` left out, and no
    more than MAX_LANGUAGES read, so a long header costs little."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:MAX_LANGUAGES]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().casefold().replace("_", "-")
        if not _TAG.match(tag):
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0:
            weighted.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(weighted)]
