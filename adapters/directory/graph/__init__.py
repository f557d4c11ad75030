"""Microsoft Entra ID through Microsoft Graph: settings, and the directory opened from them."""

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

from adapters.directory.base import DirectoryUnavailable
from adapters.directory.graph.directory import GraphDirectory, odata_string
from adapters.directory.graph.settings import (
    CERTIFICATE_PASSPHRASE_VARIABLE,
    CLIENT_SECRET_VARIABLE,
    GraphDirectorySettings,
)
from adapters.microsoft_graph import GraphMisconfigured, Sleep, open_graph_connection

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
    try:
        connection = await open_graph_connection(settings, environ, base_dir=base_dir)
    except GraphMisconfigured as error:
        raise DirectoryUnavailable(str(error)) from None
    log.info(
        "graph directory configured",
        extra={
            "tenant": settings.tenant_id,
            "client_id": settings.client_id,
            "credential": repr(connection.credential),
        },
    )
    return GraphDirectory(
        connection.client(sleep=sleep),
        read_authentication_methods=settings.read_authentication_methods,
        close=connection.close,
    )
