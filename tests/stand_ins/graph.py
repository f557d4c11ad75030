"""A local HTTPS stand-in for the Microsoft identity platform and Microsoft Graph.

It speaks their wire format so the real msal and the real Graph adapter talk to it
unchanged: the tenant's OpenID configuration, the v2.0 token endpoint (client credentials
with a client secret or a certificate-signed client assertion, whose signature it
verifies), and the Graph endpoints the adapters use. It checks what the real services
check (bearer token, scope, OData filter syntax, ConsistencyLevel for casts, 20 group ids
per checkMemberGroups, the shape of a sendMail request), enforces Entra's password rules,
refuses to reset the password of a directory-role member (the app holds no privileged
role), and records every request and every mail it accepted (`stand_in.sent_mail`).

`stand_in.mail_send = False` makes sendMail answer as Graph does when the app lacks the
Mail.Send permission (403 ErrorAccessDenied); `stand_in.page_size` is how many role
members one page holds before an `@odata.nextLink`, and `stand_in.users_page_size`, when
set, the most users one page of `GET /users` holds whatever its `$top` asks.

`stand_in.fail_next(...)` makes the next Graph request(s) answer 429/503 with Retry-After,
500, hang past the client's timeout, or any other error body (None lets one through).

Use `graph_app(directory)` once per session for the certificates and the app's
credentials, and `async with running_graph_stand_in(app) as stand_in:` per test;
`stand_in.settings()` is the adapter's `graph` config section and `stand_in.environ()` its
environment (the client secret).
"""

import asyncio
import base64
import json
import re
import secrets
import ssl
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jwt
from aiohttp import web
from aiohttp.typedefs import Handler
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support.serving import serving
from tests.support.tls import TlsFiles, write_tls_files

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "0b1c2d3e-4f50-4617-8899-aabbccddeeff"
JSON_BODY = web.RequestKey[Any]("json_body", object)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

COMPLEXITY_MESSAGE = (
    "The specified password does not comply with password complexity requirements. "
    "Please provide a different password."
)
# Entra's wording for a reused password is not documented; the adapter matches on words.
HISTORY_MESSAGE = (
    "The specified password does not comply with password history requirements. "
    "Please provide a different password."
)
FORBIDDEN_MESSAGE = "Insufficient privileges to complete the operation."
ON_PREMISES_MESSAGE = (
    "Unable to update the specified properties for on-premises mastered Directory Sync "
    "objects or objects currently undergoing migration."
)
ACCESS_DENIED_MESSAGE = "Access is denied. Check credentials and try again."
NO_MAILBOX_MESSAGE = "The mailbox is either inactive, soft-deleted, or is hosted on-premise."
# Built-in roles by display name, with the template id that is the same in every tenant.
ROLE_TEMPLATES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
}
# What Graph returns for a user when no $select names the properties.
DEFAULT_USER_PROPERTIES = (
    "businessPhones",
    "displayName",
    "mail",
    "mobilePhone",
    "userPrincipalName",
    "id",
)
# The message properties sendMail takes (a subset of microsoft.graph.message).
MESSAGE_PROPERTIES = frozenset(
    {
        "subject",
        "body",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "internetMessageHeaders",
        "importance",
        "from",
        "sender",
        "attachments",
    }
)
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class GraphApp:
    """The app registration: its id, secret and certificate, and the TLS files."""

    tls: TlsFiles
    client_secret: str
    certificate_file: Path  # PEM: the certificate and its private key
    certificate: x509.Certificate


def graph_app(directory: Path) -> GraphApp:
    """New TLS files and app credentials in `directory`."""
    tls = write_tls_files(directory / "tls")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sspr-bot graph app")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = directory / "app-certificate.pem"
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + certificate.public_bytes(serialization.Encoding.PEM)
    )
    return GraphApp(tls, secrets.token_urlsafe(24), path, certificate)


@dataclass
class User:
    id: str
    upn: str
    display_name: str
    enabled: bool = True
    mail: str | None = None
    other_mails: list[str] = field(default_factory=list)
    mobile_phone: str | None = None
    business_phones: list[str] = field(default_factory=list)
    on_premises: bool = False
    phone_methods: list[dict[str, str]] = field(default_factory=list)
    email_methods: list[str] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)  # newest last
    must_change: bool | None = None
    sessions_revoked: int = 0
    revoke_fails: bool = False  # revokeSignInSessions answers 500 for this user

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userPrincipalName": self.upn,
            "displayName": self.display_name,
            "accountEnabled": self.enabled,
            "mail": self.mail,
            "otherMails": self.other_mails,
            "mobilePhone": self.mobile_phone,
            "businessPhones": self.business_phones,
            "onPremisesSyncEnabled": True if self.on_premises else None,
        }


@dataclass
class Group:
    id: str
    display_name: str
    members: set[str] = field(default_factory=set)  # user and group ids
    template_id: str | None = None  # directory roles only


@dataclass(frozen=True)
class SentMail:
    """A mail sendMail accepted: from which mailbox (its user id), and the request."""

    mailbox: str
    message: dict[str, Any]
    save_to_sent_items: bool
    request_id: str


@dataclass
class Fault:
    """How the next Graph request is answered instead of normally."""

    status: int = 500
    code: str = "generalException"
    message: str = "An unexpected error occurred."
    retry_after: str | None = None
    hang: bool = False


def throttled(retry_after: str = "2") -> Fault:
    return Fault(429, "TooManyRequests", "Too many requests.", retry_after)


def unavailable(retry_after: str | None = "1") -> Fault:
    return Fault(503, "serviceNotAvailable", "Service unavailable.", retry_after)


def internal_error() -> Fault:
    return Fault(500, "generalException", "An unexpected error occurred.")


def hang() -> Fault:
    return Fault(hang=True)


def password_policy() -> Fault:
    return Fault(400, "Request_BadRequest", COMPLEXITY_MESSAGE)


def password_history() -> Fault:
    return Fault(400, "Request_BadRequest", HISTORY_MESSAGE)


def forbidden() -> Fault:
    return Fault(403, "Authorization_RequestDenied", FORBIDDEN_MESSAGE)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # decoded, without the /v1.0 prefix
    query: dict[str, str]  # decoded
    raw_query: str
    headers: dict[str, str]
    body: Any
    raw_path: str = ""  # as sent, percent-encoded


@dataclass
class GraphStandIn:
    app: GraphApp
    url: str = ""
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    roles: dict[str, Group] = field(default_factory=dict)  # directory roles
    requests: list[Request] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    discovery_requests: int = 0
    faults: deque[Fault | None] = field(default_factory=deque)
    tokens: set[str] = field(default_factory=set)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    sent_mail: list[SentMail] = field(default_factory=list)
    mail_send: bool = True  # whether the app holds the Mail.Send permission
    page_size: int = 100
    users_page_size: int | None = None

    # -- what a test sets up ------------------------------------------------------------
    def add_user(self, upn: str, display_name: str, **details: Any) -> User:
        user = User(id=str(uuid.uuid4()), upn=upn, display_name=display_name, **details)
        self.users[user.id] = user
        return user

    def add_group(self, display_name: str, *members: User | Group) -> Group:
        group = Group(str(uuid.uuid4()), display_name, {member.id for member in members})
        self.groups[group.id] = group
        return group

    def add_role(
        self, display_name: str, *members: User | Group, template_id: str | None = None
    ) -> Group:
        """A directory role (activated in the tenant); a built-in role's template id is
        known from its display name."""
        role = Group(
            str(uuid.uuid4()),
            display_name,
            {member.id for member in members},
            template_id or ROLE_TEMPLATES.get(display_name),
        )
        self.roles[role.id] = role
        return role

    def fail_next(self, *faults: Fault | None) -> None:
        """Answer the next Graph requests with these faults, one each, in order (None: that
        request is answered normally)."""
        self.faults.extend(faults)

    # -- what the adapter is configured with ---------------------------------------------
    @property
    def authority_host(self) -> str:
        return self.url

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The adapter's `graph` config section for this stand-in (client secret)."""
        return {
            "tenant_id": TENANT_ID,
            "client_id": CLIENT_ID,
            "authority_host": self.authority_host,
            "graph_url": self.graph_url,
            "ca_file": str(self.app.tls.ca),
            **overrides,
        }

    def environ(self) -> dict[str, str]:
        return {"SSPR_GRAPH_CLIENT_SECRET": self.app.client_secret}

    # -- what a test reads back ----------------------------------------------------------
    def graph_requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]

    def member_groups(self, object_id: str) -> set[str]:
        """Every group (and role) `object_id` is in, directly or through nesting."""
        containers = {**self.groups, **self.roles}
        found: set[str] = set()
        pending = [object_id]
        while pending:
            member = pending.pop()
            for group in containers.values():
                if member in group.members and group.id not in found:
                    found.add(group.id)
                    pending.append(group.id)
        return found


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": "stand-in"}}}
    return web.json_response(body, status=status, headers=headers)


_CONDITION = re.compile(r"\s*(\w+) eq '((?:[^']|'')*)'\s*")


def parse_filter(text: str) -> list[tuple[str, str]]:
    """`prop eq 'literal' or prop eq 'literal'...` as (prop, value) pairs; ValueError for
    anything else (as Graph refuses an unsupported or malformed query)."""
    conditions = []
    position = 0
    while True:
        match = _CONDITION.match(text, position)
        if match is None:
            raise ValueError(text)
        conditions.append((match.group(1), match.group(2).replace("''", "'")))
        position = match.end()
        if position == len(text):
            return conditions
        if not text.startswith("or ", position):
            raise ValueError(text)
        position += 3


def _app(stand_in: GraphStandIn) -> web.Application:
    def base() -> str:
        return stand_in.url  # known once the server listens

    async def openid_configuration(request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        if tenant != TENANT_ID:
            return _error(400, "invalid_tenant", "AADSTS90002: Tenant not found.")
        stand_in.discovery_requests += 1
        issuer = f"{base()}/{tenant}/v2.0"
        return web.json_response(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{base()}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base()}/{tenant}/oauth2/v2.0/token",
                "jwks_uri": f"{base()}/{tenant}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "token"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                ],
            }
        )

    async def token(request: web.Request) -> web.Response:
        form = dict(await request.post())
        fields = {k: str(v) for k, v in form.items()}
        stand_in.token_requests.append(fields)
        token_url = f"{base()}/{request.match_info['tenant']}/oauth2/v2.0/token"
        if fields.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "AADSTS70003")
        if fields.get("client_id") != CLIENT_ID:
            return _oauth_error("unauthorized_client", "AADSTS700016: Application not found.")
        if fields.get("scope") != f"{base()}/.default":
            return _oauth_error("invalid_scope", "AADSTS1002012: The provided scope is invalid.")
        if "client_secret" in fields:
            if not secrets.compare_digest(fields["client_secret"], stand_in.app.client_secret):
                return _oauth_error("invalid_client", "AADSTS7000215: Invalid client secret.")
        elif fields.get("client_assertion_type") == ASSERTION_TYPE:
            problem = _assertion_problem(
                fields.get("client_assertion", ""), token_url, stand_in.app
            )
            if problem:
                return _oauth_error("invalid_client", f"AADSTS700027: {problem}")
        else:
            return _oauth_error("invalid_client", "AADSTS7000218: No credential.")
        access_token = secrets.token_urlsafe(32)
        stand_in.tokens.add(access_token)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": access_token,
            }
        )

    @web.middleware
    async def graph_checks(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v1.0/"):
            return await handler(request)
        raw_query = request.rel_url.raw_query_string
        body = None
        if request.can_read_body:
            try:
                body = json.loads(await request.read())
            except ValueError:
                return _error(400, "BadRequest", "Unable to read JSON request payload.")
        stand_in.requests.append(
            Request(
                method=request.method,
                path=unquote(request.path[len("/v1.0") :]),
                query=dict(request.query),
                raw_query=raw_query,
                headers=dict(request.headers),
                body=body,
                raw_path=request.rel_url.raw_path,
            )
        )
        authorization = request.headers.get("Authorization", "")
        scheme, _, presented = authorization.partition(" ")
        if scheme != "Bearer" or presented not in stand_in.tokens:
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        fault = stand_in.faults.popleft() if stand_in.faults else None
        if fault is not None:
            if fault.hang:
                await stand_in.release.wait()
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return _error(fault.status, fault.code, fault.message, **headers)
        request[JSON_BODY] = body
        return await handler(request)

    def user_or_404(request: web.Request) -> User:
        user = stand_in.users.get(request.match_info["id"])
        if user is None:
            raise _not_found(request.match_info["id"])
        return user

    def mailbox_user(key: str) -> User | None:
        """A user by object id or user principal name, as /users/{id | upn} takes it."""
        wanted = key.casefold()
        for user in stand_in.users.values():
            if user.id == wanted or user.upn.casefold() == wanted:
                return user
        return None

    def every_user(request: web.Request) -> web.Response:
        """The tenant's users in pages of `$top` (1 to 999, 100 when not given), the next
        page behind an opaque `$skiptoken` in `@odata.nextLink`, as Graph pages them."""
        top = request.query.get("$top", "100")
        if not top.isdigit() or not 1 <= int(top) <= 999:
            message = f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive."
            return _error(400, "Request_BadRequest", message)
        size = min(int(top), stand_in.users_page_size or int(top))
        token = request.query.get("$skiptoken")
        start = int(base64.urlsafe_b64decode(token).decode().removeprefix("users:")) if token else 0
        users = list(stand_in.users.values())
        answer: dict[str, Any] = {
            "@odata.context": f"{base()}/v1.0/$metadata#users",
            "value": [_select(user.resource(), request) for user in users[start : start + size]],
        }
        if start + size < len(users):
            kept = {name: value for name, value in request.query.items() if name != "$skiptoken"}
            token = base64.urlsafe_b64encode(f"users:{start + size}".encode()).decode()
            options = "&".join(f"{name}={quote(value, safe=',')}" for name, value in kept.items())
            answer["@odata.nextLink"] = f"{base()}/v1.0/users?{options}&$skiptoken={token}"
        return web.json_response(answer)

    async def list_users(request: web.Request) -> web.Response:
        if "$filter" not in request.query:
            return every_user(request)
        try:
            conditions = parse_filter(request.query.get("$filter", ""))
        except ValueError:
            return _error(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter.")
        matches = []
        for user in stand_in.users.values():
            for prop, value in conditions:
                actual = {"userPrincipalName": user.upn, "mail": user.mail}.get(prop)
                if prop not in ("userPrincipalName", "mail"):
                    return _error(400, "Request_UnsupportedQuery", f"Unsupported property {prop}.")
                if actual is not None and actual.casefold() == value.casefold():
                    matches.append(_select(user.resource(), request))
                    break
        return web.json_response({"value": matches})

    async def get_user(request: web.Request) -> web.Response:
        return web.json_response(_select(user_or_404(request).resource(), request))

    async def patch_user(request: web.Request) -> web.Response:
        user = user_or_404(request)
        profile = (request[JSON_BODY] or {}).get("passwordProfile")
        if not isinstance(profile, dict) or not isinstance(profile.get("password"), str):
            return _error(400, "Request_BadRequest", "Invalid passwordProfile.")
        password = profile["password"]
        if user.on_premises:
            return _error(400, "Request_BadRequest", ON_PREMISES_MESSAGE)
        if stand_in.member_groups(user.id) & set(stand_in.roles):
            return _error(403, "Authorization_RequestDenied", FORBIDDEN_MESSAGE)
        if not _complex_enough(password):
            return _error(400, "Request_BadRequest", COMPLEXITY_MESSAGE)
        if password in user.passwords[-1:]:
            return _error(400, "Request_BadRequest", HISTORY_MESSAGE)
        user.passwords.append(password)
        user.must_change = bool(profile.get("forceChangePasswordNextSignIn", False))
        return web.Response(status=204)

    async def revoke(request: web.Request) -> web.Response:
        user = user_or_404(request)
        if user.revoke_fails:
            return _error(500, "generalException", "An unexpected error occurred.")
        user.sessions_revoked += 1
        return web.json_response(
            {"@odata.context": f"{base()}/v1.0/$metadata#Edm.Boolean", "value": True}
        )

    async def check_member_groups(request: web.Request) -> web.Response:
        user = user_or_404(request)
        ids = (request[JSON_BODY] or {}).get("groupIds")
        if not isinstance(ids, list) or not ids or len(ids) > 20:
            return _error(400, "Request_BadRequest", "groupIds must hold 1 to 20 ids.")
        member_of = stand_in.member_groups(user.id)
        return web.json_response({"value": [i for i in ids if i in member_of]})

    async def directory_roles(request: web.Request) -> web.Response:
        user = user_or_404(request)
        if request.headers.get("ConsistencyLevel") != "eventual" or (
            request.query.get("$count") != "true"
        ):
            return _error(
                400,
                "Request_UnsupportedQuery",
                "The specified filter to the reference property query is currently not supported.",
            )
        roles = [{"id": r} for r in stand_in.member_groups(user.id) if r in stand_in.roles]
        return web.json_response({"@odata.count": len(roles), "value": roles})

    async def phone_methods(request: web.Request) -> web.Response:
        user = user_or_404(request)
        return web.json_response({"value": user.phone_methods})

    async def email_methods(request: web.Request) -> web.Response:
        user = user_or_404(request)
        return web.json_response(
            {"value": [{"id": str(uuid.uuid4()), "emailAddress": a} for a in user.email_methods]}
        )

    async def list_groups(request: web.Request) -> web.Response:
        try:
            conditions = parse_filter(request.query.get("$filter", ""))
        except ValueError:
            return _error(400, "Request_UnsupportedQuery", "Unsupported or invalid query filter.")
        if [prop for prop, _ in conditions] != ["displayName"]:
            return _error(400, "Request_UnsupportedQuery", "Unsupported query.")
        wanted = conditions[0][1].casefold()
        found = [
            {"id": g.id, "displayName": g.display_name}
            for g in stand_in.groups.values()
            if g.display_name.casefold() == wanted
        ]
        return web.json_response({"value": found})

    async def send_mail(request: web.Request) -> web.Response:
        if not stand_in.mail_send:
            return _error(403, "ErrorAccessDenied", ACCESS_DENIED_MESSAGE)
        key = request.match_info["id"]
        user = mailbox_user(key)
        if user is None:
            return _error(404, "ErrorInvalidUser", f"The requested user '{key}' is invalid.")
        if user.mail is None:
            return _error(404, "MailboxNotEnabledForRESTAPI", NO_MAILBOX_MESSAGE)
        if request.content_type != "application/json":
            return _error(415, "UnsupportedMediaType", "Content-Type must be application/json.")
        problem = _send_mail_problem(request[JSON_BODY])
        if problem is not None:
            return problem
        request_id = str(uuid.uuid4())
        body = request[JSON_BODY]
        stand_in.sent_mail.append(
            SentMail(user.id, body["message"], body.get("saveToSentItems", True), request_id)
        )
        headers = {"request-id": request_id}
        if "client-request-id" in request.headers:
            headers["client-request-id"] = request.headers["client-request-id"]
        return web.Response(status=202, headers=headers)

    async def role_members(request: web.Request) -> web.Response:
        match = re.fullmatch(r"roleTemplateId='([0-9a-fA-F-]{36})'", request.match_info["key"])
        if match is None:
            return _error(400, "Request_BadRequest", "Invalid object identifier.")
        template_id = match.group(1).lower()
        role = next((r for r in stand_in.roles.values() if r.template_id == template_id), None)
        if role is None:
            raise _not_found(template_id)
        members = sorted(
            (stand_in.users[m] for m in role.members if m in stand_in.users),
            key=lambda user: user.upn,
        )
        start = int(request.query.get("$skiptoken", "0"))
        page = members[start : start + stand_in.page_size]
        fields = request.query.get("$select", ",".join(DEFAULT_USER_PROPERTIES)).split(",")
        answer: dict[str, Any] = {
            "@odata.context": f"{base()}/v1.0/$metadata#users",
            "value": [{name: user.resource().get(name) for name in fields} for user in page],
        }
        if start + stand_in.page_size < len(members):
            select = quote(",".join(fields), safe=",")
            answer["@odata.nextLink"] = (
                f"{base()}{request.path}?$select={select}&$skiptoken={start + stand_in.page_size}"
            )
        return web.json_response(answer)

    app = web.Application(middlewares=[graph_checks])
    app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration)
    app.router.add_post("/{tenant}/oauth2/v2.0/token", token)
    app.router.add_get("/v1.0/users", list_users)
    app.router.add_get("/v1.0/users/{id}", get_user)
    app.router.add_patch("/v1.0/users/{id}", patch_user)
    app.router.add_post("/v1.0/users/{id}/revokeSignInSessions", revoke)
    app.router.add_post("/v1.0/users/{id}/checkMemberGroups", check_member_groups)
    app.router.add_get(
        "/v1.0/users/{id}/transitiveMemberOf/microsoft.graph.directoryRole", directory_roles
    )
    app.router.add_get("/v1.0/users/{id}/authentication/phoneMethods", phone_methods)
    app.router.add_get("/v1.0/users/{id}/authentication/emailMethods", email_methods)
    app.router.add_get("/v1.0/groups", list_groups)
    app.router.add_post("/v1.0/users/{id}/sendMail", send_mail)
    app.router.add_get("/v1.0/directoryRoles({key})/members/microsoft.graph.user", role_members)
    return app


def _send_mail_problem(body: Any) -> web.Response | None:
    """Graph's answer to a sendMail body it cannot take, or None for a good one."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        return _error(
            400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty."
        )
    for name in body:
        if name not in ("message", "saveToSentItems"):
            return _unknown_property(name, "microsoft.graph.sendMail")
    if not isinstance(body.get("saveToSentItems", True), bool):
        return _error(400, "RequestBodyRead", "Cannot convert the literal to Edm.Boolean.")
    message = body["message"]
    for name in message:
        if name not in MESSAGE_PROPERTIES:
            return _unknown_property(name, "microsoft.graph.message")
    content = message.get("body", {})
    if not isinstance(content, dict) or not isinstance(content.get("content", ""), str):
        return _error(400, "RequestBodyRead", "Invalid itemBody.")
    if str(content.get("contentType", "Text")).casefold() not in ("text", "html"):
        return _error(400, "RequestBodyRead", "Requested value was not found.")
    recipients = message.get("toRecipients")
    if not isinstance(recipients, list) or not recipients:
        return _error(400, "ErrorInvalidRecipients", "At least one recipient isn't valid.")
    for recipient in recipients:
        email = recipient.get("emailAddress") if isinstance(recipient, dict) else None
        address = email.get("address") if isinstance(email, dict) else None
        if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
            return _error(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient is not valid., Recipient is not resolved. All "
                "recipients must be resolved before a message can be submitted.",
            )
    for header in message.get("internetMessageHeaders", []):
        name = str(header.get("name", "")) if isinstance(header, dict) else ""
        if not name.casefold().startswith("x-"):
            return _error(
                400,
                "InvalidInternetMessageHeader",
                f"The internet message header name '{name}' should start with 'x-' or 'X-'.",
            )
    return None


def _unknown_property(name: str, type_name: str) -> web.Response:
    return _error(
        400,
        "RequestBodyRead",
        f"The property '{name}' does not exist on type '{type_name}'. Make sure to only use "
        "property names that are defined by the type or mark the type as open type.",
    )


def _select(resource: dict[str, Any], request: web.Request) -> dict[str, Any]:
    fields = request.query.get("$select")
    if not fields:
        return resource
    return {name: resource.get(name) for name in fields.split(",")}


def _not_found(object_id: str) -> web.HTTPNotFound:
    body = json.dumps(
        {
            "error": {
                "code": "Request_ResourceNotFound",
                "message": f"Resource '{object_id}' does not exist or one of its queried "
                "reference-property objects are not present.",
            }
        }
    )
    return web.HTTPNotFound(text=body, content_type="application/json")


def _oauth_error(error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=401)


def _complex_enough(password: str) -> bool:
    """Entra's rule for cloud accounts: 8 to 256 characters, three of four classes."""
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ]
    return 8 <= len(password) <= 256 and sum(classes) >= 3


def _thumbprint(certificate: x509.Certificate, algorithm: hashes.HashAlgorithm) -> str:
    digest = certificate.fingerprint(algorithm)
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _assertion_problem(assertion: str, audience: str, app: GraphApp) -> str | None:
    """Why a client assertion is refused, or None: it must name the registered certificate
    and be signed by its key, for this token endpoint, by and about this client."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        return "The client assertion is not a JWT."
    if "x5t#S256" in header:
        named = str(header["x5t#S256"]).rstrip("=") == _thumbprint(app.certificate, hashes.SHA256())
    else:
        sha1 = _thumbprint(app.certificate, hashes.SHA1())  # noqa: S303 - names, not secures
        named = str(header.get("x5t", "")).rstrip("=") == sha1
    if not named:
        return "The certificate named by the assertion is not registered."
    try:
        claims = jwt.decode(
            assertion,
            app.certificate.public_key(),  # type: ignore[arg-type]
            algorithms=["PS256", "RS256"],
            audience=audience,
            issuer=CLIENT_ID,
            options={"require": ["exp", "aud", "iss", "sub", "jti"]},
        )
    except jwt.PyJWTError as exc:
        return f"The client assertion is invalid ({type(exc).__name__})."
    if claims.get("sub") != CLIENT_ID:
        return "The assertion's subject is not the client."
    return None


@asynccontextmanager
async def running_graph_stand_in(app: GraphApp) -> AsyncIterator[GraphStandIn]:
    """A stand-in on a free 127.0.0.1 port, speaking only TLS with `app.tls`'s certificate."""
    stand_in = GraphStandIn(app)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(app.tls.certificate, app.tls.key)
    async with serving(_app(stand_in), ssl_context=context) as url:
        stand_in.url = url
        try:
            yield stand_in
        finally:
            stand_in.release.set()
