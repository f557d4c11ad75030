"""App-only access tokens for Graph from msal, with the app's secret or certificate.

msal is synchronous and does network I/O (tenant discovery, the token request), so every
call into it runs in a worker thread. Its token cache lives in the one
ConfidentialClientApplication kept here, so a token is fetched once and reused until msal
decides to renew it. msal talks HTTP through `AuthorityHttp`, which trusts exactly the
system's authorities plus the configured CA file: REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE
(which `requests` would otherwise let override a session's trust) have no say.
"""

import asyncio
import logging
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from requests.adapters import HTTPAdapter

from adapters.microsoft_graph.errors import GraphMisconfigured, GraphTokenError
from adapters.microsoft_graph.settings import CERTIFICATE_PASSPHRASE_VARIABLE

log = logging.getLogger(__name__)

# Where the certificate is configured, as a problem with it names it.
_CERTIFICATE_SETTING = "directory.graph.certificate_file"


@dataclass(frozen=True, repr=False)
class AppCredential:
    """What proves the app's identity to the authority; `repr` never shows the secret."""

    client_secret: str | None = None
    private_key_pem: str | None = None
    certificate_pem: str | None = None
    passphrase: str | None = None
    thumbprint: str | None = None  # SHA-1, hex upper case: what the portal shows

    def for_msal(self) -> str | dict[str, str]:
        if self.client_secret is not None:
            return self.client_secret
        assert self.private_key_pem is not None
        assert self.certificate_pem is not None
        # With the certificate and no thumbprint, msal signs the assertion with PS256 and
        # names the certificate by its SHA-256 thumbprint (x5t#S256), the current default.
        credential = {
            "private_key": self.private_key_pem,
            "public_certificate": self.certificate_pem,
        }
        if self.passphrase:
            credential["passphrase"] = self.passphrase
        return credential

    def __repr__(self) -> str:
        kind = "secret" if self.client_secret is not None else f"certificate {self.thumbprint}"
        return f"AppCredential({kind})"


def load_certificate(path: Path, passphrase: str | None) -> AppCredential:
    """Read a PEM with the app's certificate and its private key; GraphMisconfigured
    naming the problem (never the key) when it is unreadable or the two do not belong
    together."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GraphMisconfigured(
            f"{_CERTIFICATE_SETTING} {path}: cannot be read ({exc.strerror})"
        ) from None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise GraphMisconfigured(
            f"{_CERTIFICATE_SETTING} {path}: holds no PEM certificate"
        ) from None
    try:
        key = serialization.load_pem_private_key(
            data, password=passphrase.encode() if passphrase else None
        )
    except (ValueError, TypeError):
        raise GraphMisconfigured(
            f"{_CERTIFICATE_SETTING} {path}: holds no readable PEM private key (an encrypted "
            f"key needs {CERTIFICATE_PASSPHRASE_VARIABLE})"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise GraphMisconfigured(f"{_CERTIFICATE_SETTING} {path}: the key must be RSA")
    public = key.public_key().public_numbers()
    matching = [
        certificate
        for certificate in certificates
        if isinstance(certificate.public_key(), rsa.RSAPublicKey)
        and certificate.public_key().public_numbers() == public  # type: ignore[union-attr]
    ]
    if not matching:
        raise GraphMisconfigured(
            f"{_CERTIFICATE_SETTING} {path}: no certificate in it matches the private key"
        )
    certificate = matching[0]
    return AppCredential(
        private_key_pem=data.decode("ascii", errors="replace"),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        passphrase=passphrase,
        thumbprint=certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - an id
    )


class _TrustingAdapter(HTTPAdapter):
    """Verifies every https connection with one SSLContext, whatever `verify` says."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, _ = super().build_connection_pool_key_attributes(request, True, cert)
        return host_params, {"ssl_context": self._context, "cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


class AuthorityHttp:
    """The HTTP client msal uses (its `http_client` interface: get and post)."""

    def __init__(self, context: ssl.SSLContext, timeout: float) -> None:
        self._session = requests.Session()
        self._session.mount("https://", _TrustingAdapter(context))
        self._timeout = timeout

    def get(
        self, url: str, params: Any = None, headers: Any = None, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.get(url, params=params, headers=headers, **kwargs)

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return self._session.post(url, params=params, data=data, headers=headers, **kwargs)

    def close(self) -> None:
        self._session.close()


class AppTokens:
    """Access tokens for one scope, from msal's cache while they last."""

    def __init__(
        self,
        *,
        authority: str,
        client_id: str,
        credential: AppCredential,
        scope: str,
        http: AuthorityHttp,
    ) -> None:
        self._authority = authority
        self._client_id = client_id
        self._credential = credential
        self._scope = scope
        self._http = http
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    async def token(self) -> str:
        """A valid access token; GraphTokenError when none can be had."""
        return await asyncio.to_thread(self._acquire)

    def close(self) -> None:
        self._http.close()

    def _acquire(self) -> str:
        with self._lock:
            try:
                app = self._application()
                result: dict[str, Any] = app.acquire_token_for_client(scopes=[self._scope])
            except (requests.RequestException, OSError) as exc:
                raise GraphTokenError(
                    f"the authority {self._authority} cannot be reached ({type(exc).__name__})"
                ) from None
            except (ValueError, msal.exceptions.MsalError) as exc:
                raise GraphTokenError(
                    f"the authority {self._authority} answered nonsense ({type(exc).__name__})"
                ) from None
        token = result.get("access_token")
        if isinstance(token, str) and token:
            if result.get("token_source") == "identity_provider":
                log.info(
                    "graph access token fetched", extra={"expires_in": result.get("expires_in")}
                )
            return token
        error = str(result.get("error") or "no access token")
        description = str(result.get("error_description") or "").split("\n")[0][:200]
        raise GraphTokenError(f"the authority refused a token: {error} {description}".strip())

    def _application(self) -> msal.ConfidentialClientApplication:
        """Built on first use: its constructor fetches the tenant's OpenID configuration,
        which should not stop the bot from starting while the authority is unreachable."""
        if self._app is None:
            self._app = msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._credential.for_msal(),
                authority=self._authority,
                # No call to login.microsoftonline.com to vouch for a sovereign or private
                # authority host: the configured host is trusted as it is.
                instance_discovery=False,
                http_client=self._http,
                token_cache=msal.TokenCache(),
            )
        return self._app
