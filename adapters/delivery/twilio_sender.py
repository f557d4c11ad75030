"""Text messages and voice calls through Twilio, with its official package's async client.

A text message is one `POST .../Messages.json`, a call one `POST .../Calls.json` whose
TwiML reads the message's speech, one `<Say>` per utterance with a pause between them.
Neither is ever repeated once it may have reached Twilio: only a refused connection and a
429 answer are tried again (by the RetryPolicy), because Twilio certainly took nothing.

The package's aiohttp client is used with corrections, all in `TwilioTransport`
(adapters/delivery/twilio_transport.py); importing this module holds Twilio's HTTP loggers
at WARNING for the whole process, as they log every request's URL and headers at INFO.
"""

import re
import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from adapters.delivery.base import DeliveryFailed, DeliveryUnavailable, Message, Receipt
from adapters.delivery.retry import RetryPolicy
from adapters.delivery.trust import trusting
from adapters.delivery.twilio_settings import (
    API_SECRET_VARIABLE,
    AUTH_TOKEN_VARIABLE,
    TwilioSettings,
)
from adapters.delivery.twilio_transport import TwilioTransport, http_reason

__all__ = [
    "API_SECRET_VARIABLE",
    "AUTH_TOKEN_VARIABLE",
    "FALLBACK_LANGUAGE",
    "SAY_LANGUAGES",
    "TwilioSender",
    "TwilioSettings",
    "dialable",
    "open_twilio_sender",
    "say_language",
    "spoken",
]

# The languages Twilio's <Say> voices (Amazon Polly's and Google's) speak, as the
# `language` attribute writes them.
SAY_LANGUAGES = frozenset(
    {
        "af-ZA", "ar-AE", "bg-BG", "ca-ES", "cmn-CN", "cmn-TW", "cs-CZ", "cy-GB", "da-DK",
        "de-AT", "de-CH", "de-DE", "el-GR", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN",
        "en-NZ", "en-US", "en-ZA", "es-ES", "es-MX", "es-US", "eu-ES", "fi-FI", "fil-PH",
        "fr-BE", "fr-CA", "fr-FR", "gl-ES", "he-IL", "hi-IN", "hu-HU", "id-ID", "is-IS",
        "it-IT", "ja-JP", "ko-KR", "lt-LT", "lv-LV", "ms-MY", "nb-NO", "nl-BE", "nl-NL",
        "pl-PL", "pt-BR", "pt-PT", "ro-RO", "ru-RU", "sk-SK", "sr-RS", "sv-SE", "th-TH",
        "tr-TR", "uk-UA", "vi-VN", "yue-HK",
    }
)  # fmt: skip
# What a bare language (or a region Twilio has no voice for) is spoken as.
_LANGUAGE_DEFAULTS: Mapping[str, str] = {
    "af": "af-ZA", "ar": "ar-AE", "bg": "bg-BG", "ca": "ca-ES", "cmn": "cmn-CN",
    "cs": "cs-CZ", "cy": "cy-GB", "da": "da-DK", "de": "de-DE", "el": "el-GR",
    "en": "en-US", "es": "es-ES", "eu": "eu-ES", "fi": "fi-FI", "fil": "fil-PH",
    "fr": "fr-FR", "gl": "gl-ES", "he": "he-IL", "hi": "hi-IN", "hu": "hu-HU",
    "id": "id-ID", "is": "is-IS", "it": "it-IT", "ja": "ja-JP", "ko": "ko-KR",
    "lt": "lt-LT", "lv": "lv-LV", "ms": "ms-MY", "nb": "nb-NO", "nl": "nl-NL",
    "no": "nb-NO", "pl": "pl-PL", "pt": "pt-BR", "ro": "ro-RO", "ru": "ru-RU",
    "sk": "sk-SK", "sr": "sr-RS", "sv": "sv-SE", "th": "th-TH", "tr": "tr-TR",
    "uk": "uk-UA", "vi": "vi-VN", "yue": "yue-HK", "zh": "cmn-CN",
}  # fmt: skip
# Chinese locales as chat clients write them, and the spoken language Twilio names.
_CHINESE: Mapping[str, str] = {"zh-CN": "cmn-CN", "zh-TW": "cmn-TW", "zh-HK": "yue-HK"}
FALLBACK_LANGUAGE = "en-US"


def say_language(locale: str) -> str:
    """The <Say> language for a message locale: "de" -> "de-DE", "en_GB" -> "en-GB" (a
    region Twilio speaks passes through), "de-LU" -> "de-DE", anything unknown -> en-US."""
    parts = [part for part in re.split(r"[-_]", locale.strip()) if part]
    if not parts:
        return FALLBACK_LANGUAGE
    language = parts[0].lower()
    region = next((part.upper() for part in parts[1:] if len(part) == 2), None)
    if region is not None:
        tag = f"{language}-{region}"
        tag = _CHINESE.get(tag, tag)
        if tag in SAY_LANGUAGES:
            return tag
    return _LANGUAGE_DEFAULTS.get(language, FALLBACK_LANGUAGE)


def dialable(number: str) -> str:
    """An international number as Twilio wants it (E.164): "+1 (425) 555-0101" ->
    "+14255550101". A number without a country code is passed on unchanged: only Twilio
    can say whether it is valid."""
    number = number.strip()
    if number.startswith("+"):
        return "+" + re.sub(r"[\s().-]", "", number[1:])
    return number


class TwilioSender:
    """A CodeSender for text messages (Messages) and voice calls (Calls) through Twilio."""

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        secret: str,
        tls_context: ssl.SSLContext,
        retry: RetryPolicy,
    ) -> None:
        self._settings = settings
        self._retry = retry
        host = urlsplit(settings.api_base).hostname or settings.api_base
        self._transport = TwilioTransport(
            timeout=settings.timeout, tls_context=tls_context, host=host
        )
        self._client = Client(
            username=settings.api_key_sid or settings.account_sid,
            password=secret,
            account_sid=settings.account_sid,
            http_client=self._transport,
            # Never empty: an empty mapping makes the package read os.environ, whose
            # TWILIO_EDGE or TWILIO_REGION would rewrite the host of api_base.
            environment={"TWILIO_ACCOUNT_SID": settings.account_sid},
        )
        # Messages and Calls both belong to the api domain; the others are never used.
        self._client.api.base_url = settings.api_base

    async def send(self, message: Message) -> Receipt:
        """Create the message or call; DeliveryFailed (maybe_sent when Twilio may have
        created it) when it could not be, refused connections and 429 tried again."""
        create = self._creation(message)

        async def attempt() -> Receipt:
            try:
                resource = await create()
            except (TwilioRestException, TwilioServiceException) as error:
                raise _refusal(error) from None
            except ValueError:
                raise DeliveryFailed("twilio: unreadable answer", maybe_sent=True) from None
            sid = getattr(resource, "sid", None)
            if not isinstance(sid, str) or not sid:
                raise DeliveryFailed("twilio: answer without a sid", maybe_sent=True)
            return Receipt("twilio", sid)

        return await self._retry.run(attempt)

    async def close(self) -> None:
        """Close the HTTP session (if one was opened); safe to call twice."""
        await self._transport.close()

    def _creation(self, message: Message) -> Callable[[], Awaitable[Any]]:
        settings = self._settings
        to = dialable(message.to)
        if message.medium == "sms":
            sender: dict[str, str | None]
            if settings.messaging_service_sid is not None:
                sender = {"messaging_service_sid": settings.messaging_service_sid}
            else:
                sender = {"from_": settings.from_number}
            return lambda: self._client.messages.create_async(to=to, body=message.body, **sender)
        if message.medium == "voice":
            if settings.from_number is None:
                raise DeliveryFailed("twilio: voice calls need from_number in the settings")
            twiml = spoken(message, settings.voice)
            return lambda: self._client.calls.create_async(
                to=to, from_=settings.from_number, twiml=twiml
            )
        raise DeliveryFailed(f"twilio: carries sms and voice, not {message.medium}")


def spoken(message: Message, voice: str | None) -> str:
    """The TwiML of a call: each utterance of the message's speech (its body when it has
    none) in its own <Say>, in the message's language, with a second's pause between."""
    language = say_language(message.locale)
    response = VoiceResponse()
    for number, utterance in enumerate(message.speech or (message.body,)):
        if number:
            response.pause(length=1)
        response.say(utterance, voice=voice, language=language)
    return str(response.to_xml())


def _refusal(error: TwilioRestException | TwilioServiceException) -> DeliveryFailed:
    """Twilio's error answer as a safe reason (status and Twilio's code, never its text,
    which may quote the number). A 5xx may have come after Twilio created the resource."""
    status = int(error.status)
    code = error.code if isinstance(error.code, int) and error.code != status else None
    return DeliveryFailed(http_reason(status, code), maybe_sent=status >= 500)


def open_twilio_sender(
    settings: TwilioSettings,
    environ: Mapping[str, str],
    *,
    retry: RetryPolicy,
    base_dir: Path | None = None,
) -> TwilioSender:
    """The sender for `settings`; DeliveryUnavailable when the secret's variable is not set
    or the CA file cannot be loaded, so the bot refuses to start rather than fail later."""
    variable = API_SECRET_VARIABLE if settings.api_key_sid is not None else AUTH_TOKEN_VARIABLE
    secret = environ.get(variable) or None
    if secret is None:
        holds = (
            "the secret of the configured api_key_sid"
            if settings.api_key_sid is not None
            else "the account's auth token"
        )
        raise DeliveryUnavailable(
            f"twilio: the environment variable {variable} is not set (it holds {holds})"
        )
    return TwilioSender(
        settings,
        secret=secret,
        tls_context=trusting(settings.ca_file, base_dir, "twilio"),
        retry=retry,
    )
