"""Microsoft Entra ID through Microsoft Graph: settings, and the directory opened from them."""

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

from adapters.directory.base import DirectoryUnavailable
from adapters.directory.graph.client import GraphClient, Sleep, open_session, trust
from adapters.directory.graph.directory import GraphDirectory, odata_string
from adapters.directory.graph.settings import (
    CERTIFICATE_PASSPHRASE_VARIABLE,
    CLIENT_SECRET_VARIABLE,
    GraphDirectorySettings,
)
from adapters.directory.graph.token import (
    AppCredential,
    AppTokens,
    AuthorityHttp,
    load_certificate,
)

__all__ = [
    "CERTIFICATE_PASSPHRASE_VARIABLE",
    "CLIENT_SECRET_VARIABLE",
    "GraphDirectory",
    "GraphDirectorySettings",
    "odata_string",
    "open_graph_directory",
]

log = logging.getLogger(__name__)


async def open_graph_directory(
    settings: GraphDirectorySettings,
    environ: Mapping[str, str],
    *,
    base_dir: Path | None = None,
    sleep: Sleep = asyncio.sleep,
) -> GraphDirectory:
    """The directory, ready to use; DirectoryUnavailable naming what is misconfigured.

    Credentials and files are checked here; the authority is first contacted at the first
    lookup, so an outage of Entra does not stop the bot from starting. `base_dir` is what
    relative file paths are taken from (the bot's data directory); `sleep` is how retries
    wait (tests pass one that does not).
    """
    ca_file = _path(settings.ca_file, base_dir)
    context = trust(ca_file)
    credential = await asyncio.to_thread(_credential, settings, environ, base_dir)
    http = AuthorityHttp(context, settings.timeout)
    tokens = AppTokens(
        authority=settings.authority,
        client_id=settings.client_id,
        credential=credential,
        scope=settings.scope,
        http=http,
    )
    session = await open_session(context, settings.timeout)
    client = GraphClient(
        settings.graph_url,
        tokens,
        session,
        max_retries=settings.max_retries,
        max_retry_wait=settings.max_retry_wait,
        sleep=sleep,
    )
    log.info(
        "graph directory configured",
        extra={
            "tenant": settings.tenant_id,
            "client_id": settings.client_id,
            "credential": repr(credential),
        },
    )
    return GraphDirectory(
        client,
        session,
        read_authentication_methods=settings.read_authentication_methods,
        on_close=[tokens.close],
    )


def _path(value: str | None, base_dir: Path | None) -> str | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return str(path if path.is_absolute() or base_dir is None else base_dir / path)


def _credential(
    settings: GraphDirectorySettings, environ: Mapping[str, str], base_dir: Path | None
) -> AppCredential:
    secret = environ.get(CLIENT_SECRET_VARIABLE, "")
    certificate_file = _path(settings.certificate_file, base_dir)
    if certificate_file is not None:
        if secret:
            log.warning(f"{CLIENT_SECRET_VARIABLE} is set but not used: graph.certificate_file is")
        passphrase = environ.get(CERTIFICATE_PASSPHRASE_VARIABLE) or None
        return load_certificate(Path(certificate_file), passphrase)
    if not secret:
        raise DirectoryUnavailable(
            f"the graph directory needs a credential: set {CLIENT_SECRET_VARIABLE} or "
            "graph.certificate_file"
        )
    return AppCredential(client_secret=secret)
