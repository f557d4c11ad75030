"""The Directory port over Microsoft Entra ID, through Microsoft Graph (app-only).

Every value a person typed reaches Graph only inside an OData string literal (quotes
doubled, control characters refused) that is then percent-encoded. Group names in the
configuration are resolved to ids once. A password change is reported as done only when
Graph said so: a timeout, an outage or a throttle that outlasts the retry budget is
DirectoryUnavailable, never success.

`admin_emails` reads the members of the Global Administrator role, which needs the
RoleManagement.Read.Directory application permission (or Directory.Read.All).
"""

import asyncio
import logging
import re
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import aclosing
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

from adapters.directory.base import Account, DirectoryUnavailable, ResetNotPermitted
from adapters.directory.graph.refusals import password_refusal, unavailable
from adapters.microsoft_graph import GraphAnswer, GraphClient, GraphError, GraphUnavailable

log = logging.getLogger(__name__)

USER_FIELDS = (
    "id,userPrincipalName,displayName,accountEnabled,mail,otherMails,mobilePhone,"
    "businessPhones,onPremisesSyncEnabled"
)
# The most users one page of GET /users may hold.
USERS_PAGE_LIMIT = 999
# checkMemberGroups takes at most 20 group ids per request.
CHECK_MEMBER_GROUPS_LIMIT = 20
# The Global Administrator role's template id: the same in every tenant.
GLOBAL_ADMINISTRATOR_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"
GLOBAL_ADMINISTRATORS = (
    f"/directoryRoles(roleTemplateId='{GLOBAL_ADMINISTRATOR_TEMPLATE}')"
    "/members/microsoft.graph.user"
)
# How many administrators are told of an admin's reset at most, and how many role members
# are read to find them.
ADMIN_EMAIL_LIMIT = 100
_LIST_LIMIT = 1000
# One plain address: what a mail header and an SMTP envelope can carry unquoted.
_MAILBOX = re.compile(r"[^@\s,;<>\"()\[\]\\]+@[^@\s,;<>\"()\[\]\\]+")


class _Options(TypedDict, total=False):
    """What a request may add to its method and path (`GraphClient.request`'s keywords)."""

    query: str
    body: Mapping[str, Any] | None
    headers: Mapping[str, str] | None


class UnsafeValue(ValueError):
    """A value that cannot be put in an OData string literal (a control character)."""


def odata_string(value: str) -> str:
    """`value` as an OData string literal: in single quotes, each quote doubled."""
    if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in value):
        raise UnsafeValue("control character")
    return "'" + value.replace("'", "''") + "'"


def query(**parameters: str) -> str:
    """A query string of OData system options (`filter=` becomes `$filter=`), values
    percent-encoded (a quote is %27, a space %20, `&` and `#` cannot break out)."""
    return "&".join(f"${name}={quote(value, safe='')}" for name, value in parameters.items())


def _guid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value)) if len(value) == 36 else None
    except ValueError:
        return None


def _segment(value: str) -> str:
    return quote(value, safe="")


class GraphDirectory:
    """The Directory port over Entra ID; build it with `open_graph_directory`."""

    can_unlock = False  # Entra smart lockout unlocks accounts by itself

    def __init__(
        self,
        client: GraphClient,
        *,
        read_authentication_methods: bool,
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self._client = client
        self._read_methods = read_authentication_methods
        self._close = close
        self._group_ids: dict[str, frozenset[str]] = {}
        self._group_lock = asyncio.Lock()

    async def find(self, name: str) -> Account | None:
        name = name.strip()
        if not name or len(name) > 1024:
            return None
        guid = _guid(name)
        try:
            if guid is not None:
                user = await self._user_by_id(guid)
            else:
                user = await self._user_by_name(name)
        except UnsafeValue:
            return None
        return await self._account(user) if user is not None else None

    async def accounts(self) -> AsyncIterator[Account]:
        """The enabled users of the tenant, a page at a time, each completed as `find` does
        it (its roles, and its authentication methods when those are read)."""
        pages = self._pages("/users", query(select=USER_FIELDS, top=str(USERS_PAGE_LIMIT)))
        try:
            async with aclosing(pages):
                async for page in pages:
                    for user in page:
                        if user.get("accountEnabled") is True and "id" in user:
                            yield await self._account(user)
        except GraphError as error:
            raise unavailable(error, "list the users") from None

    async def in_any_group(self, account: Account, groups: Sequence[str]) -> bool:
        wanted: set[str] = set()
        for group in groups:
            guid = _guid(group.strip())
            wanted |= {guid} if guid is not None else await self._resolve_group(group.strip())
        ordered = sorted(wanted)
        for start in range(0, len(ordered), CHECK_MEMBER_GROUPS_LIMIT):
            chunk = ordered[start : start + CHECK_MEMBER_GROUPS_LIMIT]
            answer = await self._read(
                "POST",
                f"/users/{_segment(account.id)}/checkMemberGroups",
                body={"groupIds": chunk},
            )
            if answer and answer.get("value"):
                return True
        return False

    async def totp_secret(self, account: Account) -> str | None:
        """None: the bot cannot verify Entra's own authenticator registrations."""
        return None

    async def set_password(self, account: Account, password: str, *, must_change: bool) -> None:
        body = {
            "passwordProfile": {
                "password": password,
                "forceChangePasswordNextSignIn": must_change,
            }
        }
        try:
            await self._request("PATCH", f"/users/{_segment(account.id)}", body=body)
        except GraphError as error:
            raise password_refusal(error) from None
        log.info("graph password set", extra={"user_id": account.id, "must_change": must_change})

    async def revoke_sessions(self, account: Account) -> None:
        try:
            await self._request("POST", f"/users/{_segment(account.id)}/revokeSignInSessions")
        except GraphError as error:
            raise DirectoryUnavailable(
                f"Microsoft Graph refused to revoke the sessions ({error.status} {error.code}); "
                "the app needs the User.RevokeSessions.All permission"
            ) from None

    async def unlock(self, account: Account) -> None:
        """Never called (`can_unlock` is False): Entra ends a smart lockout by itself."""
        raise ResetNotPermitted(
            "Entra ID accounts cannot be unlocked by the bot: a smart lockout ends by itself "
            "after a short wait, or the helpdesk can unlock it."
        )

    async def admin_emails(self) -> list[str]:
        """The mail addresses of the enabled Global Administrators. A member without a
        `mail` is left out (a UPN is not always a mailbox); a tenant where the role was
        never activated has none."""
        addresses: dict[str, str] = {}  # by case-folded address
        without_mail: list[str] = []
        seen: int | None = None  # members read; None before the first page
        pages = self._pages(
            GLOBAL_ADMINISTRATORS, query(select="mail,userPrincipalName,accountEnabled")
        )
        try:
            async with aclosing(pages):
                async for page in pages:
                    for user in page:
                        if user.get("accountEnabled") is not True:
                            continue
                        mail = _mailbox(user.get("mail"))
                        if mail is None:
                            without_mail.append(str(user.get("userPrincipalName") or ""))
                        else:
                            addresses.setdefault(mail.casefold(), mail)
                    seen = (seen or 0) + len(page)
                    if len(addresses) >= ADMIN_EMAIL_LIMIT or seen >= _LIST_LIMIT:
                        break
        except GraphError as error:
            if error.status == 404 and seen is None:
                return []  # the role was never activated in this tenant
            raise unavailable(error, "list the Global Administrators") from None
        if without_mail:
            log.warning(
                "Global Administrators without a mail address are not told of admin resets",
                extra={"users": without_mail[:ADMIN_EMAIL_LIMIT]},
            )
        return list(addresses.values())[:ADMIN_EMAIL_LIMIT]

    async def close(self) -> None:
        await self._close()

    async def _account(self, user: Mapping[str, Any]) -> Account:
        user_id = str(user["id"])
        is_admin = await self._has_directory_role(user_id)
        methods = await self._contact_methods(user_id) if self._read_methods else {}
        return _account(user, is_admin=is_admin, methods=methods)

    async def _user_by_id(self, user_id: str) -> dict[str, Any] | None:
        try:
            answer = await self._request(
                "GET", f"/users/{user_id}", query=query(select=USER_FIELDS)
            )
        except GraphError as error:
            if error.status in (400, 404):
                return None
            raise unavailable(error, "look up an account") from None
        return answer.body if isinstance(answer.body, dict) else None

    async def _user_by_name(self, name: str) -> dict[str, Any] | None:
        literal = odata_string(name)
        condition = f"userPrincipalName eq {literal} or mail eq {literal}"
        users = await self._list("/users", query(filter=condition, select=USER_FIELDS))
        if len(users) <= 1:
            return users[0] if users else None
        key = name.casefold()
        by_upn = [u for u in users if str(u.get("userPrincipalName", "")).casefold() == key]
        if len(by_upn) == 1:
            return by_upn[0]
        log.warning(
            "a name matches several Entra accounts; none is used", extra={"count": len(users)}
        )
        return None

    async def _has_directory_role(self, user_id: str) -> bool:
        """Member of any directory role, directly or through a role-assignable group (an
        OData cast on transitiveMemberOf: an advanced query, hence ConsistencyLevel)."""
        answer = await self._read(
            "GET",
            f"/users/{user_id}/transitiveMemberOf/microsoft.graph.directoryRole",
            query=query(count="true", select="id"),
            headers={"ConsistencyLevel": "eventual"},
        )
        if not answer:
            return False
        count = answer.get("@odata.count")
        return bool(answer.get("value")) or (isinstance(count, int) and count > 0)

    async def _contact_methods(self, user_id: str) -> dict[str, str]:
        """The phones and email registered as authentication methods, by phone type
        (`mobile`, `alternateMobile`, `office`) and `email`."""
        found: dict[str, str] = {}
        phones = await self._list(f"/users/{user_id}/authentication/phoneMethods", "")
        for phone in phones:
            kind, number = phone.get("phoneType"), phone.get("phoneNumber")
            if isinstance(kind, str) and isinstance(number, str) and number:
                found.setdefault(kind, number)
        emails = await self._list(f"/users/{user_id}/authentication/emailMethods", "")
        for entry in emails:
            address = entry.get("emailAddress")
            if isinstance(address, str) and address:
                found.setdefault("email", address)
        return found

    async def _resolve_group(self, name: str) -> frozenset[str]:
        """The ids of the groups named `name` (display names are not unique), resolved once."""
        async with self._group_lock:
            if name not in self._group_ids:
                try:
                    condition = f"displayName eq {odata_string(name)}"
                except UnsafeValue:
                    ids: frozenset[str] = frozenset()
                else:
                    groups = await self._list("/groups", query(filter=condition, select="id"))
                    ids = frozenset(str(group["id"]) for group in groups if "id" in group)
                if not ids:
                    log.warning(
                        "a configured group does not exist in Entra ID", extra={"group": name}
                    )
                self._group_ids[name] = ids
            return self._group_ids[name]

    async def _list(self, path: str, query_string: str) -> list[dict[str, Any]]:
        """Every item of a collection (up to a bound)."""
        items: list[dict[str, Any]] = []
        pages = self._pages(path, query_string)
        try:
            async with aclosing(pages):
                async for page in pages:
                    items.extend(page)
                    if len(items) > _LIST_LIMIT:
                        break
        except GraphError as error:
            raise unavailable(error, f"GET {path.split('/')[1]}") from None
        return items

    async def _pages(
        self, path: str, query_string: str
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Each page of a collection, following `@odata.nextLink` within this Graph;
        GraphError as Graph answered, for the caller to word."""
        answer = await self._request("GET", path, query=query_string)
        while isinstance(answer.body, dict):
            values = answer.body.get("value")
            yield [item for item in values or [] if isinstance(item, dict)]
            next_link = answer.body.get("@odata.nextLink")
            if not isinstance(next_link, str):
                return
            next_path, _, next_query = self._relative(next_link).partition("?")
            answer = await self._request("GET", next_path, query=next_query)

    async def _read(
        self, method: str, path: str, **options: Unpack[_Options]
    ) -> dict[str, Any] | None:
        try:
            answer = await self._request(method, path, **options)
        except GraphError as error:
            raise unavailable(error, f"{method} {path.split('/')[1]}") from None
        return answer.body if isinstance(answer.body, dict) else None

    async def _request(self, method: str, path: str, **options: Unpack[_Options]) -> GraphAnswer:
        """The client's request; GraphError as Graph answered, DirectoryUnavailable when
        Graph or the authority cannot be reached or keep throttling."""
        try:
            return await self._client.request(method, path, **options)
        except GraphUnavailable as error:
            raise DirectoryUnavailable(error.reason) from None

    def _relative(self, link: str) -> str:
        base = self._client.base_url
        if not link.startswith(base + "/"):
            raise DirectoryUnavailable("Microsoft Graph sent a next page on another host")
        return link[len(base) :]


def _account(user: Mapping[str, Any], *, is_admin: bool, methods: Mapping[str, str]) -> Account:
    upn = str(user.get("userPrincipalName") or "")
    other_mails = [m for m in user.get("otherMails") or [] if isinstance(m, str) and m]
    business = [p for p in user.get("businessPhones") or [] if isinstance(p, str) and p]
    mail = user.get("mail") if isinstance(user.get("mail"), str) else None
    aliases = {m for m in (mail, *other_mails) if m and m.casefold() != upn.casefold()}
    return Account(
        id=str(user["id"]),
        username=upn,
        display_name=str(user.get("displayName") or upn),
        enabled=user.get("accountEnabled") is True,
        is_admin=is_admin,
        email=methods.get("email") or mail or _first(other_mails),
        mobile_phone=methods.get("mobile") or _text(user.get("mobilePhone")),
        office_phone=methods.get("office") or _first(business),
        aliases=frozenset(aliases),
        has_totp=False,
        questions=(),
        locked=False,
    )


def _mailbox(value: Any) -> str | None:
    """`value` when it is one plain mail address (directory data goes into mail headers)."""
    return value if isinstance(value, str) and _MAILBOX.fullmatch(value) else None


def _first(values: Iterable[str]) -> str | None:
    return next(iter(values), None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
