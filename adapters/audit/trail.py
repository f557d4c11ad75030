"""The audit trail: one event, checked and dated once, written as one JSON line to every
configured sink (`adapters.audit.settings`).

A sink that cannot take a line never fails the turn that recorded it: the trail logs that
sink's failure once, goes on with the others, and logs again only after the sink has
worked in between.
"""

import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from adapters.audit.base import AuditObserver, AuditSink

log = logging.getLogger(__name__)

_SECRET_WORDS: Final = frozenset({"code", "password", "passwd", "pwd", "answer", "secret", "token"})


def looks_like_a_secret(field: str) -> bool:
    """Whether a field name contains a word that names a secret (`new_password`, `totpSecret`).

    Deliberately broad: `status_code` is refused too; such a field takes another name.
    """
    words = re.findall(r"[a-z0-9]+", re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", field).lower())
    return any(word in _SECRET_WORDS or word.removesuffix("s") in _SECRET_WORDS for word in words)


class AuditTrail:
    """An Audit that writes `{"at", "event", ...fields}` to each of `sinks`, and shows the
    event to each of `observers`."""

    def __init__(self, sinks: Sequence[AuditSink], observers: Sequence[AuditObserver] = ()) -> None:
        self._sinks = tuple(sinks)
        self._observers = tuple(observers)
        self._failing: set[str] = set()

    async def record(self, event: str, **fields: str | int | bool | None) -> None:
        """Append one event; raises ValueError for a field named like a secret, or `at`.

        The check is a guard rail against a careless caller, not a secret detector: values
        are written as given.
        """
        refused = sorted(name for name in fields if name == "at" or looks_like_a_secret(name))
        if refused:
            raise ValueError(f"audit event {event!r}: field names refused: {', '.join(refused)}")
        entry: dict[str, str | int | bool | None] = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "event": event,
            **fields,
        }
        line = json.dumps(entry, ensure_ascii=False)
        for sink in self._sinks:
            self._write(sink, line)
        for observer in self._observers:
            observer.observe(entry)

    async def close(self) -> None:
        for sink in self._sinks:
            try:
                await sink.close()
            except Exception as error:
                log.error(
                    "audit sink not closed cleanly",
                    extra={"sink": sink.name, "error": type(error).__name__},
                )

    def _write(self, sink: AuditSink, line: str) -> None:
        try:
            sink.write(line)
        except Exception as error:
            if sink.name not in self._failing:
                self._failing.add(sink.name)
                log.error(
                    "audit events are not reaching a sink",
                    extra={"sink": sink.name, "error": f"{type(error).__name__}: {error}"},
                )
            return
        self._failing.discard(sink.name)
