"""Microsoft Graph as one app registration sees it: its settings, its tokens (msal client
credentials), and authorised requests with Graph's throttling rules. The directory and the
mail sender both talk to Graph through this package, each translating its errors into its
own port's."""

from adapters.microsoft_graph.client import GraphAnswer, GraphClient, Sleep
from adapters.microsoft_graph.connection import GraphConnection, open_graph_connection
from adapters.microsoft_graph.errors import (
    GraphBusy,
    GraphError,
    GraphMisconfigured,
    GraphTokenError,
    GraphUnavailable,
)
from adapters.microsoft_graph.settings import (
    CERTIFICATE_PASSPHRASE_VARIABLE,
    CLIENT_SECRET_VARIABLE,
    GraphAppSettings,
)
from adapters.microsoft_graph.token import AppCredential, AppTokens

__all__ = [
    "CERTIFICATE_PASSPHRASE_VARIABLE",
    "CLIENT_SECRET_VARIABLE",
    "AppCredential",
    "AppTokens",
    "GraphAnswer",
    "GraphAppSettings",
    "GraphBusy",
    "GraphClient",
    "GraphConnection",
    "GraphError",
    "GraphMisconfigured",
    "GraphTokenError",
    "GraphUnavailable",
    "Sleep",
    "open_graph_connection",
]
