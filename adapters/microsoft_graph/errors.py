"""What can go wrong between the app and Microsoft Graph, in terms every user of Graph
(the directory, the mail sender) translates into its own port's errors.

Each reason is safe to log: it names a setting, a status code or Graph's error code, never
a secret, a token or what was sent.
"""


class GraphMisconfigured(Exception):
    """The app's settings or credential cannot be used (a secret not set, an unreadable
    certificate or CA file); the message names the setting or variable."""


class GraphError(Exception):
    """Graph answered with an error status; `code` and `message` are Graph's own."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class GraphUnavailable(Exception):
    """Graph or the authority cannot be reached, did not answer in time, or answered
    nonsense.

    `maybe_processed` is True when the request may have reached Graph and been acted on
    (a time-out or a dropped connection after it was sent), False when it certainly was
    not. `transient` is True when trying again later may succeed with nothing changed (a
    refused connection, a failed DNS lookup, throttling), False for a TLS failure.
    """

    def __init__(self, reason: str, *, maybe_processed: bool = False, transient: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.maybe_processed = maybe_processed
        self.transient = transient


class GraphBusy(GraphUnavailable):
    """Graph throttled the request (429) or was briefly unavailable (503) once more than
    the client retries. `retry_after` is the wait its last answer asked for, if any.

    A 429, or a 503 with Retry-After, is a request Graph turned away; a bare 503 may come
    from a gateway after the service acted on the request, so only that one counts as
    maybe processed.
    """

    def __init__(self, reason: str, *, status: int, code: str, retry_after: float | None):
        super().__init__(
            reason,
            maybe_processed=status != 429 and retry_after is None,
            transient=True,
        )
        self.status = status
        self.code = code
        self.retry_after = retry_after


class GraphTokenError(GraphUnavailable):
    """No access token: the authority cannot be reached, refused the app's credential, or
    answered nonsense. Nothing reached Graph."""
