"""An activity's JSON body, read once and bounded in depth, for `/api/messages`.

Python's JSON decoder recurses once per level and gives up with RecursionError near a
thousand levels, and whatever walks a parsed activity afterwards (pydantic, the turn, the
state store's encoder) recurses the same way. Channels nest an activity a handful of levels
deep (a card submit's data inside `value`, the tenant inside `channelData`), far from
`MAX_NESTING`, so a deeper body is not an activity: it is refused like any other malformed
one before anything walks it, and the body that passed is handed on already parsed.
"""

import json
from collections.abc import Mapping
from typing import Any

from microsoft_agents.hosting.core.http import HttpRequestProtocol, HttpResponse

MAX_NESTING = 64
NOT_AN_ACTIVITY = "not a Bot Framework activity"


def not_an_activity() -> HttpResponse:
    """The answer to a body that is no activity: 400 and the same short sentence always."""
    return HttpResponse(status_code=400, body={"error": NOT_AN_ACTIVITY})


def nested_within(value: Any, limit: int = MAX_NESTING) -> bool:
    """Whether no object or array in `value` sits deeper than `limit` levels. Iterative,
    so it is safe on any value however deep."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True


async def read_activity_body(request: HttpRequestProtocol) -> Any | None:
    """The parsed body, or None when it is not JSON or nested deeper than `MAX_NESTING`."""
    try:
        body = await request.json()
    except (ValueError, RecursionError):
        return None
    return body if nested_within(body) else None


def parse_activity_body(raw: bytes) -> Any | None:
    """`read_activity_body` for a body already read as bytes."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return body if nested_within(body) else None


class ParsedRequest:
    """The request with its body already read and checked: the SDK's `json()` returns it
    instead of decoding the bytes a second time."""

    def __init__(self, request: HttpRequestProtocol, body: Any) -> None:
        self._request = request
        self._body = body

    @property
    def method(self) -> str:
        return self._request.method

    @property
    def headers(self) -> Mapping[str, str]:
        return self._request.headers

    async def json(self) -> Any:
        return self._body

    def get_claims_identity(self) -> Any:
        return self._request.get_claims_identity()

    def get_path_param(self, name: str) -> str:
        return self._request.get_path_param(name)
