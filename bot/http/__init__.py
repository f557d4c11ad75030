"""The one HTTP boundary: every route the bot owns turns an aiohttp request into an
`HttpRequest` and an `HttpAnswer` back into a response in `aiohttp_adapter`, so the channels
and the password page behind it are plain Python with no web framework in sight."""

from bot.http.request import TOO_LARGE, Cookie, Headers, HttpAnswer, HttpRequest

__all__ = ["TOO_LARGE", "Cookie", "Headers", "HttpAnswer", "HttpRequest"]
