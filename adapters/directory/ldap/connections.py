"""Bound ldap3 connections, kept open in worker threads so that the event loop never blocks.

`ConnectionPool` owns a ThreadPoolExecutor of `pool_size` threads; each thread keeps one
bound synchronous connection of its own (never shared, so no locking around ldap3) and
reuses it for every call it runs. A connection that fails is dropped, and the next call
opens and binds a new one. A call that only read so far is retried once on a fresh
connection when a reused one turns out to be dead (the server closed an idle connection);
once a write was sent it is never repeated: its outcome is unknown, so it is reported.

Servers are tried in the configured order; one that failed is tried last for
`RETRY_FAILED_AFTER` seconds. (ldap3's ServerPool is not used: after a failed round it
sleeps for the process-wide POOLING_LOOP_TIMEOUT, 10 s by default, and it judges a server
by a bare TCP connect, which does not see certificate or bind errors.)
"""

import asyncio
import contextlib
import logging
import math
import ssl
import threading
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import ldap3
from ldap3.core.exceptions import LDAPException, LDAPStartTLSError

from adapters.directory.base import DirectoryUnavailable
from adapters.directory.ldap.settings import BIND_PASSWORD_VARIABLE, LdapDirectorySettings

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_FAILED_AFTER = 30.0

# Result codes after which the connection is not trusted any more.
_SERVER_TROUBLE = {51: "busy", 52: "unavailable", 80: "other"}
SIZE_LIMIT_EXCEEDED = 4
ADMIN_LIMIT_EXCEEDED = 11
NO_SUCH_OBJECT = 32
INVALID_DN_SYNTAX = 34
# Results of a search the server ended at its limits, with the entries sent so far.
_LIMITS = {SIZE_LIMIT_EXCEEDED: "sizeLimitExceeded", ADMIN_LIMIT_EXCEEDED: "adminLimitExceeded"}
PAGED_RESULTS = "1.2.840.113556.1.4.319"  # the Simple Paged Results control (RFC 2696)

Entry = tuple[str, dict[str, list[bytes]]]  # a DN, and its attributes by casefolded name


class ConnectionLost(Exception):
    """The connection broke during a call (not a refusal by the server)."""


class VerifyingTls(ldap3.Tls):  # type: ignore[misc]
    """ldap3's Tls, wrapping sockets with a standard-library SSLContext that verifies the
    certificate chain and the host name (IP addresses included) during the handshake.

    ldap3 2.9.1 checks the name itself with `ssl.match_hostname`, deprecated since Python
    3.7 and gone in 3.12; the context's own check replaces it. Verification cannot be
    switched off: the context always has CERT_REQUIRED and check_hostname.
    """

    def __init__(self, ca_file: str | None) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=ca_file)
        self.context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        connection.socket = self.context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=True,
            server_hostname=connection.server.host,
        )


@dataclass
class _Endpoint:
    url: str
    failed_at: float = float("-inf")


@dataclass
class Session:
    """One call's use of a bound connection: runs operations, notes whether a write was
    sent, and turns broken connections into ConnectionLost."""

    connection: ldap3.Connection
    url: str
    wrote: bool = False

    @property
    def encrypted(self) -> bool:
        """Whether this connection is encrypted now (ldaps, or StartTLS completed)."""
        return bool(self.connection.server.ssl or self.connection.tls_started)

    def search(
        self,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        *,
        scope: str = ldap3.SUBTREE,
        size_limit: int = 0,
    ) -> list[Entry]:
        """Entries as (DN, attributes by casefolded name -> raw values). A base that does
        not exist (or is no DN the server accepts) gives no entries. `size_limit` entries
        received are the answer the caller asked for; a search the server cut short at
        its own limits raises DirectoryUnavailable: taking part of the entries for all of
        them would, for one, resolve an ambiguous name to one of its accounts."""
        entries, code = self._search(
            base, search_filter, attributes, scope=scope, size_limit=size_limit
        )
        asked = code == SIZE_LIMIT_EXCEEDED and 0 < size_limit <= len(entries)
        if code in _LIMITS and not asked:
            raise DirectoryUnavailable(self._limited(code))
        return entries

    def search_page(
        self, base: str, search_filter: str, attributes: Sequence[str], *, size: int, cookie: bytes
    ) -> tuple[list[Entry], bytes]:
        """One page of a subtree search with the Simple Paged Results control (RFC 2696),
        and the cookie that asks for the next one: empty to start, empty again after the
        last page. The server keeps the search's place for this connection only. A
        server that ends the search at its limits (slapd: the bind DN's size limit, 500
        entries by default, paged or not) raises DirectoryUnavailable: the pages so far
        are not the whole listing."""
        entries, code = self._search(
            base, search_filter, attributes, paged_size=size, paged_cookie=cookie or None
        )
        if code in _LIMITS:
            raise DirectoryUnavailable(self._limited(code, size))
        control = (self.connection.result.get("controls") or {}).get(PAGED_RESULTS, {})
        return entries, bytes(control.get("value", {}).get("cookie") or b"")

    def _search(
        self,
        base: str,
        search_filter: str,
        attributes: Sequence[str],
        *,
        scope: str = ldap3.SUBTREE,
        **options: Any,
    ) -> tuple[list[Entry], int]:
        """The entries received and the result code: success, one of _LIMITS (for the
        caller to judge) or a base that is not there; any other refusal raises."""
        connection = self.connection
        self._call(
            lambda: connection.search(
                base,
                search_filter,
                search_scope=scope,
                attributes=list(attributes) or [ldap3.NO_ATTRIBUTES],
                **options,
            )
        )
        result = connection.result
        code = result["result"]
        if code not in (0, *_LIMITS, NO_SUCH_OBJECT, INVALID_DN_SYNTAX):
            self._check_trouble(code)
            raise DirectoryUnavailable(f"{self.url}: search refused ({result['description']})")
        entries = []
        for item in connection.response or ():
            if item.get("type") != "searchResEntry":
                continue  # AD's continuation references to other partitions
            raw = item.get("raw_attributes", {})
            entries.append(
                (str(item["dn"]), {name.casefold(): list(values) for name, values in raw.items()})
            )
        return entries, code

    def _limited(self, code: int, page_size: int | None = None) -> str:
        """What an LDAP administrator changes: the limits of the bind DN (never the
        password; no entry's name either). OpenLDAP caps a paged search's total at
        size.prtotal (by default the DN's hard size limit) and refuses pages larger than
        size.pr; AD applies its LDAP query policy."""
        bind_dn = str(self.connection.user)
        if page_size is None:
            openldap = f'dn.exact="{bind_dn}" size=unlimited'
        else:
            openldap = (
                f'dn.exact="{bind_dn}" size.prtotal=unlimited (or size=unlimited), with '
                f"size.pr, if set, no lower than the page size ({page_size})"
            )
        return (
            f"{self.url}: the server cut a {'paged ' if page_size else ''}search short at its "
            f"limits for the bind DN {bind_dn!r} ({_LIMITS[code]}), so its answer would be "
            f"incomplete; raise that DN's limits: on OpenLDAP, olcLimits on the database: "
            f"{openldap}; on Active Directory, the LDAP query policy (MaxPageSize, "
            f"MaxResultSetSize)"
        )

    def modify(
        self, dn: str, changes: Mapping[str, Any], controls: Sequence[Any] | None = None
    ) -> Mapping[str, Any]:
        """Send a modify; returns ldap3's result (the caller maps refusals)."""
        connection = self.connection
        self.wrote = True
        self._call(lambda: connection.modify(dn, dict(changes), controls=controls))
        result: Mapping[str, Any] = connection.result
        self._check_trouble(result["result"])
        return result

    def modify_password(
        self, dn: str, password: str, controls: Sequence[Any] | None = None
    ) -> Mapping[str, Any]:
        """RFC 3062 password modify extended operation, without the old password (an
        administrative reset); returns ldap3's result."""
        connection = self.connection
        self.wrote = True
        self._call(
            lambda: connection.extend.standard.modify_password(
                user=dn, new_password=password, controls=controls
            )
        )
        result: Mapping[str, Any] = connection.result
        self._check_trouble(result["result"])
        return result

    def _call(self, operation: Callable[[], object]) -> None:
        try:
            operation()
        except LDAPException as exc:
            raise ConnectionLost(f"{self.url}: {_reason(exc)}") from None

    def _check_trouble(self, code: int) -> None:
        if code in _SERVER_TROUBLE:
            raise ConnectionLost(f"{self.url}: the server answered {_SERVER_TROUBLE[code]}")


class ConnectionPool:
    """Bound connections for `settings`, one per worker thread, opened on first use."""

    def __init__(self, settings: LdapDirectorySettings, password: str) -> None:
        self._settings = settings
        self._password = password
        self._tls = VerifyingTls(settings.ca_file)
        self._endpoints = [_Endpoint(url) for url in settings.urls]
        self._executor = ThreadPoolExecutor(
            max_workers=settings.pool_size, thread_name_prefix="ldap"
        )
        self._local = threading.local()
        self._open: set[ldap3.Connection] = set()
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, work: Callable[[Session], T]) -> T:
        """`work` in a worker thread with that thread's bound connection."""
        if self._closed:
            raise DirectoryUnavailable("the LDAP directory was closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, work)

    async def pages(
        self, page: Callable[[Session, bytes], tuple[T, bytes]]
    ) -> AsyncGenerator[T, None]:
        """What `page` returns, called again with the cookie it returned until that is
        empty: a paged search, whose cookie only its own connection can use. That one is
        opened for this walk alone (the pool's stay free for conversations) and closed
        after it; lost midway, it ends the walk with DirectoryUnavailable."""
        if self._closed:
            raise DirectoryUnavailable("the LDAP directory was closed")
        loop = asyncio.get_running_loop()
        connection, url = await loop.run_in_executor(self._executor, self.open)
        with self._lock:
            self._open.add(connection)
        session = Session(connection, url)
        try:
            cookie = b""
            while True:
                if self._closed:
                    raise DirectoryUnavailable("the LDAP directory was closed")
                found, cookie = await loop.run_in_executor(
                    self._executor, self._page, page, session, cookie
                )
                yield found
                if not cookie:
                    return
        finally:
            with self._lock:
                self._open.discard(connection)
            await asyncio.to_thread(_unbind, connection)

    async def close(self) -> None:
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            _unbind(connection)

    def _run(self, work: Callable[[Session], T]) -> T:
        session = self._session()
        reused = session is not None
        if session is None:
            session = self._new_session()
        try:
            return work(session)
        except ConnectionLost as lost:
            self._drop(session)
            if not reused or session.wrote:
                raise DirectoryUnavailable(self._scrub(str(lost))) from None
            log.warning("LDAP connection lost; reconnecting")
        retry = self._new_session()
        try:
            return work(retry)
        except ConnectionLost as lost:
            self._drop(retry)
            raise DirectoryUnavailable(self._scrub(str(lost))) from None

    def _page(
        self, page: Callable[[Session, bytes], tuple[T, bytes]], session: Session, cookie: bytes
    ) -> tuple[T, bytes]:
        try:
            return page(session, cookie)
        except ConnectionLost as lost:
            raise DirectoryUnavailable(self._scrub(str(lost))) from None

    def _session(self) -> Session | None:
        session: Session | None = getattr(self._local, "session", None)
        if session is not None and session.connection.closed:
            self._drop(session)
            return None
        if session is not None:
            session.wrote = False
        return session

    def _new_session(self) -> Session:
        connection, url = self.open()
        session = Session(connection, url)
        self._local.session = session
        with self._lock:
            self._open.add(connection)
        return session

    def _drop(self, session: Session) -> None:
        self._local.session = None
        with self._lock:
            self._open.discard(session.connection)
        _unbind(session.connection)

    def open(self) -> tuple[ldap3.Connection, str]:
        """A new bound connection to the first server that accepts it (in configured
        order, recently failed ones last); DirectoryUnavailable names each URL's problem."""
        now = time.monotonic()
        order = sorted(self._endpoints, key=lambda e: now - e.failed_at < RETRY_FAILED_AFTER)
        problems = []
        for endpoint in order:
            try:
                return self._bind(endpoint), endpoint.url
            except _Refused as refused:
                endpoint.failed_at = time.monotonic()
                problems.append(str(refused))
        raise DirectoryUnavailable(self._scrub("; ".join(problems)))

    def _scrub(self, text: str) -> str:
        """Belt and braces: no library message may carry the bind password out."""
        return text.replace(self._password, "***")

    def _bind(self, endpoint: _Endpoint) -> ldap3.Connection:
        settings = self._settings
        # A new Server each time: ldap3 marks a Server's addresses unusable after a failed
        # connect (for minutes), and these objects would otherwise be shared by threads.
        server = _server(endpoint.url, self._tls, settings.timeout)
        connection = ldap3.Connection(
            server,
            user=settings.bind_dn,
            password=self._password,
            auto_bind=ldap3.AUTO_BIND_NONE,
            client_strategy=ldap3.SYNC,
            raise_exceptions=False,
            receive_timeout=math.ceil(settings.timeout),  # ldap3 packs it as an integer
            auto_referrals=False,
            read_only=False,
        )
        try:
            connection.open(read_server_info=False)
            if settings.start_tls and not server.ssl:
                connection.start_tls(read_server_info=False)
            bound = connection.bind(read_server_info=False)
        except LDAPStartTLSError as exc:
            _unbind(connection)
            raise _Refused(f"{endpoint.url}: StartTLS failed ({_reason(exc)})") from None
        except (LDAPException, OSError) as exc:
            _unbind(connection)
            raise _Refused(f"{endpoint.url}: {_reason(exc)}") from None
        if not bound:
            description = connection.result.get("description", "refused")
            _unbind(connection)
            hint = (
                f"; check the bind DN and {BIND_PASSWORD_VARIABLE}"
                if description == "invalidCredentials"
                else ""
            )
            raise _Refused(
                f"{endpoint.url}: bind as {settings.bind_dn!r} refused ({description}){hint}"
            )
        return connection


class _Refused(Exception):
    pass


def _server(url: str, tls: VerifyingTls, timeout: float) -> ldap3.Server:
    parts = urlsplit(url)
    secure = parts.scheme == "ldaps"
    return ldap3.Server(
        parts.hostname,
        port=parts.port or (636 if secure else 389),
        use_ssl=secure,
        tls=tls,
        get_info=ldap3.NONE,
        connect_timeout=timeout,
    )


def _reason(exc: Exception) -> str:
    """What went wrong, for an operator: ldap3's message names the socket or TLS problem
    (never the password; the bind DN at most)."""
    text = str(exc).strip() or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return f"the server's certificate is not trusted by the configured CA ({text})"
    return text


def _unbind(connection: ldap3.Connection) -> None:
    """Unbind and close; also closes the socket ldap3 leaves open when `open` failed."""
    with contextlib.suppress(LDAPException, OSError):  # already gone
        connection.unbind()
    leftover = getattr(connection, "socket", None)
    if leftover is not None:
        with contextlib.suppress(OSError):
            leftover.close()
