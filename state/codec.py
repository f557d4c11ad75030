"""JSON as the stores keep it and the bot posts it: orjson when it is installed (the `fast`
extra), else the standard library's json module.

Why: writing one session took 7.9 us with `json.dumps` and 0.5 us with `orjson.dumps`
(timeit, an 880-byte session), and a turn writes JSON three or four times (the session,
the audit line, the reply). Both write the same JSON values; orjson leaves out the spaces
and writes a float NaN as null where the json module refuses it (the bot stores no NaN:
its times come from the clock). Keys that are not strings are written as strings by both.
"""

import json
from typing import Any

try:
    import orjson
except ImportError:  # the `fast` extra is not installed
    orjson = None  # type: ignore[assignment]


def dumps(value: Any) -> bytes:
    """UTF-8 JSON of `value`; TypeError for what JSON cannot hold."""
    if orjson is not None:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def loads(data: bytes | str) -> Any:
    """The value of JSON text; ValueError when it is not JSON."""
    if orjson is not None:
        return orjson.loads(data)
    return json.loads(data)
