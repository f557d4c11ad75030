"""The web chat's rate limit per client address: a token bucket in this process in front of
the counter in the shared store.

The store's counter (`webchat-rate:<client>`, a sliding window; `counter` names another one
for another kind of request) is what holds across bot instances, but asking it is a store
write. Asked for every request, a flood of requests
that are refused anyway becomes a flood of writes that slows every other client down. So
each instance keeps a token bucket per client, `requests` deep and refilled at `requests`
per `window`: a client that has spent it is refused here, without a round trip, and only
what the bucket lets through is counted in the store, which decides. A flooding address
therefore costs the store about one window's worth of requests per window, however fast
it sends. The buckets of at most `MAX_CLIENTS` clients are kept (the one seen least
recently is forgotten first, and simply starts again with a full bucket).
"""

from collections import OrderedDict
from dataclasses import dataclass

from state import Clock, Store

MAX_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    filled_at: float


class ClientRateLimit:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        requests: int,
        window: float,
        max_clients: int = MAX_CLIENTS,
        counter: str = "webchat-rate",
    ) -> None:
        self._store = store
        self._counter = counter
        self._clock = clock
        self._requests = requests
        self._window = window
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    async def allows(self, client: str) -> bool:
        """Whether one more request from `client` (a `rate_key`) is within the limit.
        StoreUnavailable when the shared counter cannot be asked."""
        if not self._from_bucket(client):
            return False
        return await self._store.take(
            f"{self._counter}:{client}", limit=self._requests, window=self._window
        )

    def _from_bucket(self, client: str) -> bool:
        now = self._clock.now()
        bucket = self._buckets.pop(client, None) or _Bucket(self._requests, now)
        refill = max(now - bucket.filled_at, 0.0) * self._requests / self._window
        bucket.tokens = min(self._requests, bucket.tokens + refill)
        bucket.filled_at = now
        taken = bucket.tokens >= 1
        if taken:
            bucket.tokens -= 1
        self._buckets[client] = bucket
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return taken
