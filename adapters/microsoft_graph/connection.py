"""The pieces every use of Graph shares, opened once from the app's settings: the app's
credential, its tokens from msal, and one pooled HTTPS session."""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from adapters.microsoft_graph.client import GraphClient, Sleep, open_session, trust
from adapters.microsoft_graph.errors import GraphMisconfigured
from adapters.microsoft_graph.settings import (
    CERTIFICATE_PASSPHRASE_VARIABLE,
    CLIENT_SECRET_VARIABLE,
    GraphAppSettings,
)
from adapters.microsoft_graph.token import (
    AppCredential,
    AppTokens,
    AuthorityHttp,
    load_certificate,
)

log = logging.getLogger(__name__)


@dataclass
class GraphConnection:
    """One app's way to Graph; `client()` makes requests through it, `close()` ends it."""

    settings: GraphAppSettings
    credential: AppCredential
    tokens: AppTokens
    session: aiohttp.ClientSession
    _closed: bool = field(default=False, init=False, repr=False)

    def client(
        self, *, max_retries: int | None = None, sleep: Sleep = asyncio.sleep
    ) -> GraphClient:
        """A client for the app's Graph endpoint that retries throttled requests
        `max_retries` times (the settings' number unless given), waiting with `sleep`."""
        return GraphClient(
            self.settings.graph_url,
            self.tokens,
            self.session,
            max_retries=self.settings.max_retries if max_retries is None else max_retries,
            max_retry_wait=self.settings.max_retry_wait,
            sleep=sleep,
        )

    async def close(self) -> None:
        """Release the session and msal's HTTP client; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self.session.close()
        await asyncio.to_thread(self.tokens.close)


async def open_graph_connection(
    settings: GraphAppSettings,
    environ: Mapping[str, str],
    *,
    base_dir: Path | None = None,
) -> GraphConnection:
    """The app's connection, ready to use; GraphMisconfigured naming what is wrong.

    Credentials and files are checked here; the authority is first contacted at the first
    request, so an outage of Entra does not stop the bot from starting. `base_dir` is what
    relative file paths are taken from (the bot's data directory).
    """
    context = trust(_path(settings.ca_file, base_dir))
    credential = await asyncio.to_thread(_credential, settings, environ, base_dir)
    tokens = AppTokens(
        authority=settings.authority,
        client_id=settings.client_id,
        credential=credential,
        scope=settings.scope,
        http=AuthorityHttp(context, settings.timeout),
    )
    session = await open_session(context, settings.timeout)
    return GraphConnection(settings, credential, tokens, session)


def _path(value: str | None, base_dir: Path | None) -> str | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return str(path if path.is_absolute() or base_dir is None else base_dir / path)


def _credential(
    settings: GraphAppSettings, environ: Mapping[str, str], base_dir: Path | None
) -> AppCredential:
    secret = environ.get(CLIENT_SECRET_VARIABLE, "")
    certificate_file = _path(settings.certificate_file, base_dir)
    if certificate_file is not None:
        if secret:
            log.warning(
                f"{CLIENT_SECRET_VARIABLE} is set but not used: directory.graph.certificate_file is"
            )
        passphrase = environ.get(CERTIFICATE_PASSPHRASE_VARIABLE) or None
        return load_certificate(Path(certificate_file), passphrase)
    if not secret:
        raise GraphMisconfigured(
            f"Microsoft Graph needs the app's credential: set {CLIENT_SECRET_VARIABLE} or "
            "directory.graph.certificate_file"
        )
    return AppCredential(client_secret=secret)
