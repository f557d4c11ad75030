"""The fields of a posted password form, decoded strictly.

A browser sends the form URL-encoded in UTF-8. Anything else (bytes that are not UTF-8,
raw or percent-encoded, another charset, a multipart body, a flood of fields) is refused
as a whole rather than repaired: a lenient decoder turns a stray byte into U+FFFD, and a
password the user never typed would go to the directory.
"""

from urllib.parse import parse_qsl

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELD = 4096
MAX_FIELDS = 16
_UTF8 = ("utf-8", "utf8")


def form_fields(content_type: str, charset: str | None, body: bytes) -> dict[str, str] | None:
    """Each field's first value (cut at MAX_FIELD characters), or None when the body is not
    a UTF-8 URL-encoded form of at most MAX_FIELDS fields."""
    if content_type not in ("", FORM_TYPE) or (charset or "utf-8").lower() not in _UTF8:
        return None
    try:
        text = body.rstrip().decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except ValueError:  # UnicodeDecodeError is one, and so is a field too many
        return None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value[:MAX_FIELD])
    return fields
