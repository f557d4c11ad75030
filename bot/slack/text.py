"""Slack's text format, both ways.

Slack escapes `&`, `<` and `>` in what people type and turns addresses into links
(`bob@contoso.com` arrives as `<mailto:bob@contoso.com|bob@contoso.com>`). The dialog must
see what was typed: a new password with a `&` in it is that password, not `&amp;`, and an
email address is an address. Going out, the same three characters are escaped so a reply
is shown as written.
"""

import re

_LINK = re.compile(r"<([^<>]*)>")


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its message format requires."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def typed_text(text: str) -> str:
    """What the person typed, from the text of a Slack message event."""

    def shown(match: re.Match[str]) -> str:
        inner = match.group(1)
        if "|" in inner:
            return inner.split("|", 1)[1]  # a link's label is the text as typed
        if inner.startswith("mailto:"):
            return inner.removeprefix("mailto:")
        return inner  # a bare link, or a mention such as @U0123

    unlinked = _LINK.sub(shown, text)
    return unlinked.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
