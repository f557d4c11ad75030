"""Durations as admins write them in YAML ("90s", "5m", "24h", "1d") or as plain seconds."""

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 90s, 5m, 24h or 1d")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _PATTERN.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError("must be a duration such as 90s, 5m, 24h or 1d")
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


def written(seconds: float) -> str:
    """A duration as an admin would write it (900 -> "15m"), for messages about settings."""
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\d+(\.\d+)?[smhd]$"},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": "A duration: seconds, or a number with s, m, h or d.",
        }
    ),
]
