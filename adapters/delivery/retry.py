"""Bounded retries for carriers, only where a repeat cannot send a message twice.

A provider raises TryAgain only when the carrier certainly did not take the message (the
connection failed before it was handed over, the carrier answered 429 or a 4xx SMTP reply,
or promised to keep no copy); anything that might have been delivered is DeliveryFailed with
`maybe_sent`, and is never repeated. The whole wait is bounded, because a person is waiting
for the reply that says the code is on its way.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from adapters.delivery.base import DeliveryFailed, Receipt

Sleep = Callable[[float], Awaitable[None]]

_FIRST_BACKOFF = 0.5


class TryAgain(Exception):
    """The carrier did not take the message and may later; `after` is its Retry-After."""

    def __init__(self, reason: str, *, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after = after


@dataclass(frozen=True)
class RetryPolicy:
    """`tries` attempts at most, waiting at most `max_wait` seconds in all between them."""

    tries: int = 3
    max_wait: float = 5.0
    sleep: Sleep = field(default=asyncio.sleep, compare=False)

    async def run(self, attempt: Callable[[], Awaitable[Receipt]]) -> Receipt:
        """The receipt of the first attempt that succeeds; DeliveryFailed (not sent) when
        the carrier still says "later" after the last try or the wait budget is spent."""
        waited = 0.0
        backoff = _FIRST_BACKOFF
        for number in range(1, self.tries + 1):
            try:
                return await attempt()
            except TryAgain as again:
                delay = again.after if again.after is not None else backoff
                backoff *= 2
                if number == self.tries or waited + delay > self.max_wait:
                    raise DeliveryFailed(
                        f"{again.reason}; gave up after {number} tries", maybe_sent=False
                    ) from None
                await self.sleep(delay)
                waited += delay
        raise AssertionError("unreachable: tries is at least 1")
