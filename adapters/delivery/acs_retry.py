"""azure-core's retry policy bounded by our RetryPolicy, for requests safe to repeat."""

from typing import Any

from azure.core.pipeline import PipelineResponse
from azure.core.pipeline.policies import AsyncRetryPolicy
from azure.core.pipeline.transport import AsyncHttpResponse, HttpRequest

from adapters.delivery.retry import RetryPolicy, Sleep

# Answers a repeat of the same request may turn into a success.
_REPEATED_STATUSES = frozenset({429, 500, 502, 503, 504})

# As RetryPolicy: the first pause without a Retry-After, doubled after each.
_FIRST_BACKOFF = 0.5


class RepeatableSendRetry(AsyncRetryPolicy[HttpRequest, AsyncHttpResponse]):
    """azure-core's retry with our bounds: `tries` requests at most, pauses (Retry-After,
    else 0.5 s doubling) through RetryPolicy's sleep and `max_wait` seconds in all.

    Only 429 and 5xx answers are repeated: the same body goes again, so the service
    de-duplicates it by its repeatability ids. A Retry-After longer than what is left of
    the budget ends the retries at once, as RetryPolicy does.
    """

    def __init__(self, retry: RetryPolicy) -> None:
        repeats = max(retry.tries - 1, 0)
        super().__init__(retry_total=repeats, retry_status=repeats)
        self._max_wait = retry.max_wait
        self._pause: Sleep = retry.sleep

    def configure_retries(self, options: dict[str, Any]) -> dict[str, Any]:
        settings = super().configure_retries(options)
        settings["waited"] = 0.0
        settings["next_pause"] = 0.0
        return settings

    def is_retry(
        self,
        settings: dict[str, Any],
        response: PipelineResponse[Any, Any],
    ) -> bool:
        if response.http_response.status_code not in _REPEATED_STATUSES or not settings["total"]:
            return False
        asked = self.get_retry_after(response)
        pause = asked if asked is not None else _FIRST_BACKOFF * 2 ** len(settings["history"])
        if settings["waited"] + pause > self._max_wait:
            return False
        settings["next_pause"] = pause
        return True

    async def sleep(
        self,
        settings: dict[str, Any],
        transport: Any,
        response: PipelineResponse[Any, Any] | None = None,
    ) -> None:
        pause: float = settings["next_pause"]
        settings["waited"] += pause
        if pause > 0:
            await self._pause(pause)
