"""The Graph directory through the real msal and aiohttp, against a local HTTPS stand-in
for the Microsoft identity platform and Microsoft Graph (tests/stand_ins/graph.py)."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from adapters.directory import DirectoryUnavailable, PasswordRejected, ResetNotPermitted
from adapters.directory.base import Account
from adapters.directory.graph import (
    GraphDirectory,
    GraphDirectorySettings,
    odata_string,
    open_graph_directory,
)
from adapters.directory.graph.directory import USER_FIELDS
from tests.stand_ins.graph import (
    ASSERTION_TYPE,
    Fault,
    GraphApp,
    GraphStandIn,
    User,
    forbidden,
    graph_app,
    hang,
    internal_error,
    parse_filter,
    password_history,
    password_policy,
    running_graph_stand_in,
    throttled,
    unavailable,
)
from tests.support.tls import write_unrelated_ca

GOOD_PASSWORD = "Correct-Horse-42"
OTHER_PASSWORD = "Battery+Staple-77"


class Sleeps:
    """The retry waits the directory asked for, recorded instead of slept."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


MakeDirectory = Callable[..., Awaitable[GraphDirectory]]


@pytest.fixture(scope="session")
def app_files(tmp_path_factory: pytest.TempPathFactory) -> GraphApp:
    return graph_app(tmp_path_factory.mktemp("graph"))


@pytest.fixture
async def stand_in(app_files: GraphApp) -> AsyncIterator[GraphStandIn]:
    async with running_graph_stand_in(app_files) as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_directory(stand_in: GraphStandIn, sleeps: Sleeps) -> AsyncIterator[MakeDirectory]:
    """`await make_directory(timeout=0.3)`: a directory for the stand-in with these
    settings overridden (`environ=` replaces the client secret's environment)."""
    opened: list[GraphDirectory] = []

    async def make(environ: dict[str, str] | None = None, **overrides: Any) -> GraphDirectory:
        settings = GraphDirectorySettings(**stand_in.settings(**overrides))
        directory = await open_graph_directory(
            settings, stand_in.environ() if environ is None else environ, sleep=sleeps
        )
        opened.append(directory)
        return directory

    yield make
    for directory in opened:
        await directory.close()


@pytest.fixture
async def directory(make_directory: MakeDirectory) -> GraphDirectory:
    return await make_directory()


@pytest.fixture
def alice(stand_in: GraphStandIn) -> User:
    return stand_in.add_user(
        "alice@contoso.com",
        "Alice Wilber",
        mail="alice.wilber@contoso.com",
        other_mails=["alice@home.example"],
        mobile_phone="+1 425 555 0100",
        business_phones=["+1 425 555 0199"],
    )


async def found(directory: GraphDirectory, name: str) -> Account:
    account = await directory.find(name)
    assert account is not None, name
    return account


async def test_token_is_fetched_once_and_reused(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    await found(directory, "alice@contoso.com")
    await found(directory, alice.id)
    await directory.in_any_group(await found(directory, "alice@contoso.com"), [])
    assert len(stand_in.token_requests) == 1
    assert stand_in.discovery_requests == 1
    sent = stand_in.token_requests[0]
    assert sent["grant_type"] == "client_credentials"
    assert sent["scope"] == f"{stand_in.url}/.default"
    assert sent["client_secret"] == stand_in.app.client_secret
    tokens = {r.headers["Authorization"] for r in stand_in.requests}
    assert len(tokens) == 1


async def test_account_is_mapped_from_the_user(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    account = await found(directory, "Alice.Wilber@contoso.com")  # by mail, any case
    assert account.id == alice.id
    assert account.username == "alice@contoso.com"
    assert account.display_name == "Alice Wilber"
    assert account.enabled
    assert not account.is_admin
    assert account.email == "alice.wilber@contoso.com"
    assert account.mobile_phone == "+1 425 555 0100"
    assert account.office_phone == "+1 425 555 0199"
    assert account.aliases == {"alice.wilber@contoso.com", "alice@home.example"}
    assert (account.has_totp, account.questions, account.locked) == (False, (), False)
    lookup = stand_in.graph_requests("GET", "/users")[0]
    assert lookup.query["$select"].split(",") == [
        "id",
        "userPrincipalName",
        "displayName",
        "accountEnabled",
        "mail",
        "otherMails",
        "mobilePhone",
        "businessPhones",
        "onPremisesSyncEnabled",
    ]


async def test_email_falls_back_to_other_mails_and_disabled_shows(
    directory: GraphDirectory, stand_in: GraphStandIn
) -> None:
    stand_in.add_user("carol@contoso.com", "Carol", enabled=False, other_mails=["c@home.example"])
    account = await found(directory, "carol@contoso.com")
    assert account.email == "c@home.example"
    assert not account.enabled
    assert account.mobile_phone is None
    assert account.office_phone is None


async def test_find_by_object_id(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    assert (await found(directory, alice.id.upper())).username == "alice@contoso.com"
    assert stand_in.graph_requests("GET", f"/users/{alice.id}")
    assert await directory.find("00000000-0000-0000-0000-000000000000") is None


async def test_a_quote_in_the_upn_is_escaped_and_found(
    directory: GraphDirectory, stand_in: GraphStandIn
) -> None:
    obrien = stand_in.add_user("o'brien@contoso.com", "Pat O'Brien")
    account = await found(directory, "o'brien@contoso.com")
    assert account.id == obrien.id
    lookup = stand_in.graph_requests("GET", "/users")[-1]
    assert lookup.query["$filter"] == (
        "userPrincipalName eq 'o''brien@contoso.com' or mail eq 'o''brien@contoso.com'"
    )
    # Percent-encoded on the wire: no raw quote, space or `&` can end the value early.
    assert "%27o%27%27brien%40contoso.com%27" in lookup.raw_query
    assert "'" not in lookup.raw_query
    assert " " not in lookup.raw_query


@pytest.mark.parametrize(
    "name",
    [
        "x' or userPrincipalName eq 'alice@contoso.com",
        "alice@contoso.com' or mail eq 'alice.wilber@contoso.com",
        "nobody@contoso.com') or (userPrincipalName eq 'alice@contoso.com",
        "alice@contoso.com&$filter=userPrincipalName eq 'alice@contoso.com'",
        "alice@contoso.com#",
    ],
)
async def test_an_injection_attempt_finds_nothing(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User, name: str
) -> None:
    assert await directory.find(name) is None
    lookup = stand_in.graph_requests("GET", "/users")[-1]
    # The whole name stayed one literal: exactly two conditions, both on the name.
    assert parse_filter(lookup.query["$filter"]) == [("userPrincipalName", name), ("mail", name)]
    assert set(lookup.query) == {"$filter", "$select"}


@pytest.mark.parametrize("name", ["alice@contoso.com\x00", "alice\n@contoso.com", "", "   "])
async def test_control_characters_and_blanks_find_nothing_without_asking(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User, name: str
) -> None:
    assert await directory.find(name) is None
    assert stand_in.requests == []


def test_odata_string_doubles_quotes() -> None:
    assert odata_string("o'brien") == "'o''brien'"
    assert odata_string("''") == "''''''"
    with pytest.raises(ValueError, match="control"):
        odata_string("a\x7fb")


async def test_nested_group_membership_makes_eligible(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    bob = stand_in.add_user("bob@contoso.com", "Bob")
    team = stand_in.add_group("Sales team", alice)
    scope = stand_in.add_group("SSPR users", team)
    account = await found(directory, "alice@contoso.com")
    assert await directory.in_any_group(account, [scope.id])
    assert not await directory.in_any_group(await found(directory, "bob@contoso.com"), [scope.id])
    check = stand_in.graph_requests("POST", f"/users/{alice.id}/checkMemberGroups")[0]
    assert check.body == {"groupIds": [scope.id]}
    assert bob.id not in scope.members


async def test_more_than_twenty_groups_are_checked_in_batches(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    others = [stand_in.add_group(f"Group {n}").id for n in range(25)]
    last = stand_in.add_group("zz", alice)
    account = await found(directory, "alice@contoso.com")
    assert not await directory.in_any_group(account, others)
    checks = stand_in.graph_requests("POST", f"/users/{alice.id}/checkMemberGroups")
    assert [len(c.body["groupIds"]) for c in checks] == [20, 5]
    assert await directory.in_any_group(account, [*others, last.id])
    assert not await directory.in_any_group(account, [])


async def test_group_display_names_are_resolved_once(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    scope = stand_in.add_group("SSPR Users", stand_in.add_group("Nested", alice))
    stand_in.add_group("Pat's group")
    account = await found(directory, "alice@contoso.com")
    with caplog.at_level(logging.WARNING):
        for _ in range(2):
            assert await directory.in_any_group(account, ["sspr users", "No such group"])
            assert not await directory.in_any_group(account, ["Pat's group"])
    lookups = stand_in.graph_requests("GET", "/groups")
    assert [r.query["$filter"] for r in lookups] == [
        "displayName eq 'sspr users'",
        "displayName eq 'No such group'",
        "displayName eq 'Pat''s group'",
    ]
    checks = stand_in.graph_requests("POST", f"/users/{alice.id}/checkMemberGroups")
    assert checks[0].body == {"groupIds": [scope.id]}
    unknown = [r for r in caplog.records if getattr(r, "group", None) == "No such group"]
    assert len(unknown) == 1


async def test_directory_role_members_are_admins(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    admin = stand_in.add_user("admin@contoso.com", "Adele Admin")
    stand_in.add_role("Global Administrator", admin)
    through_group = stand_in.add_user("helpdesk@contoso.com", "Harry Helpdesk")
    stand_in.add_role("Helpdesk Administrator", stand_in.add_group("Role group", through_group))
    assert (await found(directory, "admin@contoso.com")).is_admin
    assert (await found(directory, "helpdesk@contoso.com")).is_admin
    assert not (await found(directory, "alice@contoso.com")).is_admin
    roles = stand_in.graph_requests(
        "GET", f"/users/{admin.id}/transitiveMemberOf/microsoft.graph.directoryRole"
    )
    assert roles[0].headers["ConsistencyLevel"] == "eventual"
    assert roles[0].query["$count"] == "true"


@pytest.mark.parametrize("must_change", [True, False])
async def test_set_password_then_revoke_sessions(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User, must_change: bool
) -> None:
    account = await found(directory, "alice@contoso.com")
    await directory.set_password(account, GOOD_PASSWORD, must_change=must_change)
    await directory.revoke_sessions(account)
    patch = stand_in.graph_requests("PATCH", f"/users/{alice.id}")
    assert [r.body for r in patch] == [
        {
            "passwordProfile": {
                "password": GOOD_PASSWORD,
                "forceChangePasswordNextSignIn": must_change,
            }
        }
    ]
    assert patch[0].headers["Content-Type"].startswith("application/json")
    assert stand_in.graph_requests("POST", f"/users/{alice.id}/revokeSignInSessions")
    assert alice.passwords == [GOOD_PASSWORD]
    assert alice.must_change is must_change
    assert alice.sessions_revoked == 1


async def test_a_429_is_retried_after_the_stated_wait(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User, sleeps: Sleeps
) -> None:
    account = await found(directory, "alice@contoso.com")
    stand_in.fail_next(throttled(retry_after="7"))
    await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert sleeps.calls == [7.0]
    assert len(stand_in.graph_requests("PATCH")) == 2
    assert alice.passwords == [GOOD_PASSWORD]


async def test_a_503_with_retry_after_is_retried(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User, sleeps: Sleeps
) -> None:
    stand_in.fail_next(unavailable(retry_after="3"))
    await found(directory, "alice@contoso.com")
    assert sleeps.calls == [3.0]


async def test_a_throttle_that_outlasts_the_retries_is_unavailable(
    make_directory: MakeDirectory, stand_in: GraphStandIn, alice: User, sleeps: Sleeps
) -> None:
    directory = await make_directory(max_retries=2)
    account = await found(directory, "alice@contoso.com")
    stand_in.fail_next(throttled("1"), throttled("1"), throttled("1"))
    with pytest.raises(DirectoryUnavailable, match="busy"):
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert sleeps.calls == [1.0, 1.0]
    assert len(stand_in.graph_requests("PATCH")) == 3
    assert alice.passwords == []


async def test_a_wait_longer_than_the_budget_fails_at_once(
    make_directory: MakeDirectory, stand_in: GraphStandIn, alice: User, sleeps: Sleeps
) -> None:
    directory = await make_directory(max_retry_wait=10)
    account = await found(directory, "alice@contoso.com")
    stand_in.fail_next(throttled("120"))
    with pytest.raises(DirectoryUnavailable):
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert sleeps.calls == []
    assert alice.passwords == []


async def test_503s_past_the_retries_are_unavailable(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User, sleeps: Sleeps
) -> None:
    account = await found(directory, "alice@contoso.com")
    stand_in.fail_next(*[unavailable(retry_after=None)] * 3)
    with pytest.raises(DirectoryUnavailable):
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert sleeps.calls == [1.0, 2.0]  # no Retry-After: exponential backoff
    assert alice.passwords == []


async def test_a_500_is_unavailable_and_not_retried(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User, sleeps: Sleeps
) -> None:
    account = await found(directory, "alice@contoso.com")
    stand_in.fail_next(internal_error())
    with pytest.raises(DirectoryUnavailable, match="500"):
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert len(stand_in.graph_requests("PATCH")) == 1
    assert sleeps.calls == []
    assert alice.passwords == []


async def test_a_timeout_is_unavailable_never_success(
    make_directory: MakeDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    directory = await make_directory(timeout=0.3)
    account = await found(directory, "alice@contoso.com")
    stand_in.fail_next(hang())
    with pytest.raises(DirectoryUnavailable, match=r"did not answer.*unknown"):
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert alice.passwords == []
    stand_in.fail_next(hang())
    with pytest.raises(DirectoryUnavailable, match="did not answer"):
        await directory.find("alice@contoso.com")


async def test_a_weak_password_is_rejected_by_policy(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    account = await found(directory, "alice@contoso.com")
    with pytest.raises(PasswordRejected) as rejected:
        await directory.set_password(account, "password", must_change=False)
    assert rejected.value.kind == "policy"
    assert "8 characters" in rejected.value.reason
    stand_in.fail_next(password_policy())
    with pytest.raises(PasswordRejected) as again:
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert again.value.kind == "policy"
    assert alice.passwords == []


async def test_a_reused_password_is_rejected_as_history(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    account = await found(directory, "alice@contoso.com")
    await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    with pytest.raises(PasswordRejected) as rejected:
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert rejected.value.kind == "history"
    stand_in.fail_next(password_history())
    with pytest.raises(PasswordRejected) as again:
        await directory.set_password(account, OTHER_PASSWORD, must_change=False)
    assert again.value.kind == "history"
    assert alice.passwords == [GOOD_PASSWORD]


async def test_an_admin_target_is_not_permitted(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    admin = stand_in.add_user("admin@contoso.com", "Adele Admin")
    stand_in.add_role("Privileged Role Administrator", admin)
    account = await found(directory, "admin@contoso.com")
    with pytest.raises(ResetNotPermitted, match="helpdesk"):
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)
    assert admin.passwords == []
    ordinary = await found(directory, "alice@contoso.com")
    stand_in.fail_next(forbidden())
    with pytest.raises(ResetNotPermitted):
        await directory.set_password(ordinary, GOOD_PASSWORD, must_change=False)


async def test_an_on_premises_synced_account_is_not_permitted(
    directory: GraphDirectory, stand_in: GraphStandIn
) -> None:
    stand_in.add_user("synced@contoso.com", "Sam Synced", on_premises=True)
    account = await found(directory, "synced@contoso.com")
    with pytest.raises(ResetNotPermitted, match="on-premises"):
        await directory.set_password(account, GOOD_PASSWORD, must_change=False)


async def test_a_certificate_credential_gets_a_token(
    make_directory: MakeDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    directory = await make_directory(
        environ={}, certificate_file=str(stand_in.app.certificate_file)
    )
    assert (await found(directory, "alice@contoso.com")).id == alice.id
    sent = stand_in.token_requests[0]
    assert sent["client_assertion_type"] == ASSERTION_TYPE
    assert "client_secret" not in sent
    assert len(stand_in.token_requests) == 1


async def test_a_certificate_without_its_key_is_refused_at_open(
    make_directory: MakeDirectory, stand_in: GraphStandIn, tmp_path: Path
) -> None:
    only_certificate = tmp_path / "certificate.pem"
    only_certificate.write_bytes(stand_in.app.tls.ca.read_bytes())
    with pytest.raises(DirectoryUnavailable, match="private key"):
        await make_directory(environ={}, certificate_file=str(only_certificate))


async def test_a_missing_secret_is_refused_at_open(make_directory: MakeDirectory) -> None:
    with pytest.raises(DirectoryUnavailable, match="SSPR_GRAPH_CLIENT_SECRET"):
        await make_directory(environ={})


async def test_a_wrong_secret_is_unavailable(
    make_directory: MakeDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    directory = await make_directory(environ={"SSPR_GRAPH_CLIENT_SECRET": "wrong-secret-value"})
    with pytest.raises(DirectoryUnavailable, match="invalid_client") as refused:
        await directory.find("alice@contoso.com")
    assert "wrong-secret-value" not in str(refused.value)
    assert stand_in.requests == []


async def test_authentication_methods_take_precedence_when_enabled(
    make_directory: MakeDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    alice.phone_methods = [
        {
            "id": "b6332ec1-7057-4abe-9331-3d72feddfe41",
            "phoneNumber": "+1 206 555 0111",
            "phoneType": "alternateMobile",
        },
        {
            "id": "3179e48a-750b-4051-897c-87b9720928f7",
            "phoneNumber": "+1 206 555 0100",
            "phoneType": "mobile",
        },
        {
            "id": "e37fc753-ff3b-4958-9484-eaa9425c82bc",
            "phoneNumber": "+1 206 555 0199",
            "phoneType": "office",
        },
    ]
    alice.email_methods = ["alice.recovery@home.example"]
    plain = await make_directory()
    assert (await found(plain, "alice@contoso.com")).mobile_phone == "+1 425 555 0100"
    assert not stand_in.graph_requests("GET", f"/users/{alice.id}/authentication/phoneMethods")
    directory = await make_directory(read_authentication_methods=True)
    account = await found(directory, "alice@contoso.com")
    assert account.mobile_phone == "+1 206 555 0100"
    assert account.office_phone == "+1 206 555 0199"
    assert account.email == "alice.recovery@home.example"


async def test_no_secret_reaches_logs_or_errors(
    make_directory: MakeDirectory,
    stand_in: GraphStandIn,
    alice: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[str] = []
    directory = await make_directory(timeout=0.3, max_retries=0)
    account = await found(directory, "alice@contoso.com")
    await directory.set_password(account, GOOD_PASSWORD, must_change=True)
    await directory.revoke_sessions(account)
    for fault in (internal_error(), throttled("1"), hang(), password_policy(), forbidden()):
        stand_in.fail_next(fault)
        try:
            await directory.set_password(account, OTHER_PASSWORD, must_change=True)
        except (DirectoryUnavailable, PasswordRejected, ResetNotPermitted) as error:
            errors.append(f"{error!s} {error!r}")
    certificate = await make_directory(
        environ={}, certificate_file=str(stand_in.app.certificate_file)
    )
    await found(certificate, "alice@contoso.com")
    assert len(errors) == 5
    secrets_seen = [
        GOOD_PASSWORD,
        OTHER_PASSWORD,
        stand_in.app.client_secret,
        *stand_in.tokens,
        *(r.get("client_assertion", "") for r in stand_in.token_requests),
    ]
    logged = caplog.text + "\n".join(str(r.__dict__) for r in caplog.records)
    for secret in filter(None, secrets_seen):
        assert secret not in logged
        assert all(secret not in error for error in errors)


async def test_the_stand_in_is_trusted_only_through_ca_file(
    make_directory: MakeDirectory, stand_in: GraphStandIn, alice: User, tmp_path: Path
) -> None:
    directory = await make_directory(ca_file=None)
    with pytest.raises(DirectoryUnavailable, match="cannot be reached"):
        await directory.find("alice@contoso.com")
    other = await make_directory(ca_file=str(write_unrelated_ca(tmp_path / "other.pem")))
    with pytest.raises(DirectoryUnavailable):
        await other.find("alice@contoso.com")


async def test_ca_variables_in_the_environment_do_not_matter(
    make_directory: MakeDirectory,
    stand_in: GraphStandIn,
    alice: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unrelated = str(write_unrelated_ca(tmp_path / "unrelated.pem"))
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(variable, unrelated)
    directory = await make_directory()
    assert (await found(directory, "alice@contoso.com")).id == alice.id


async def test_unlock_is_not_offered(directory: GraphDirectory, alice: User) -> None:
    account = await found(directory, "alice@contoso.com")
    assert directory.can_unlock is False
    assert await directory.totp_secret(account) is None
    with pytest.raises(ResetNotPermitted, match="smart lockout"):
        await directory.unlock(account)


def test_settings_keep_secrets_out_and_urls_https() -> None:
    base = {
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "0b1c2d3e-4f50-4617-8899-aabbccddeeff",
    }
    settings = GraphDirectorySettings(**base)
    assert settings.authority == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert settings.scope == "https://graph.microsoft.com/.default"
    for wrong in (
        {"client_secret": "x"},
        {"graph_url": "http://graph.microsoft.com/v1.0"},
        {"authority_host": "https://login.microsoftonline.com/tenant"},
        {"tenant_id": "common"},
        {"client_id": "not-a-guid"},
    ):
        with pytest.raises(ValidationError):
            GraphDirectorySettings(**{**base, **wrong})
    for name, field in GraphDirectorySettings.model_fields.items():
        assert field.description, name


GLOBAL_ADMINISTRATORS = (
    "/directoryRoles(roleTemplateId='62e90394-69f5-4237-9190-012177145e10')"
    "/members/microsoft.graph.user"
)


@pytest.fixture
def admins(stand_in: GraphStandIn) -> list[User]:
    """Global Administrators: two with mail, one disabled, one without a mailbox, one
    through a group (not a user: the cast leaves it out), and a User Administrator."""
    adele = stand_in.add_user("adele@contoso.com", "Adele Vance", mail="AdeleV@contoso.com")
    grady = stand_in.add_user("grady@contoso.com", "Grady Archie", mail="grady@contoso.com")
    gone = stand_in.add_user("dan@contoso.com", "Dan Left", enabled=False, mail="dan@contoso.com")
    cloud = stand_in.add_user("break-glass@contoso.onmicrosoft.com", "Break glass")
    group = stand_in.add_group("Tier 0 admins", stand_in.add_user("t0@contoso.com", "T0"))
    stand_in.add_role("Global Administrator", adele, grady, gone, cloud, group)
    uma = stand_in.add_user("uma@contoso.com", "Uma User-Admin", mail="uma@contoso.com")
    stand_in.add_role("User Administrator", uma)
    return [adele, grady, gone, cloud]


async def test_admin_emails_are_the_enabled_global_administrators_with_mail(
    directory: GraphDirectory,
    stand_in: GraphStandIn,
    admins: list[User],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stand_in.page_size = 2
    with caplog.at_level(logging.WARNING):
        emails = await directory.admin_emails()
    assert sorted(emails) == ["AdeleV@contoso.com", "grady@contoso.com"]
    pages = stand_in.graph_requests("GET", GLOBAL_ADMINISTRATORS)
    assert len(pages) == 2  # four users, two a page, through @odata.nextLink
    assert pages[0].query["$select"] == "mail,userPrincipalName,accountEnabled"
    assert pages[1].query["$skiptoken"] == "2"
    [left_out] = [r for r in caplog.records if hasattr(r, "users")]
    assert left_out.users == ["break-glass@contoso.onmicrosoft.com"]


async def test_an_address_that_is_not_one_plain_mailbox_is_left_out(
    directory: GraphDirectory, stand_in: GraphStandIn
) -> None:
    odd = [
        stand_in.add_user(f"odd{n}@contoso.com", "Odd", mail=mail)
        for n, mail in enumerate(["a@contoso.com\r\nBcc: x@evil.example", "a@b.example, c@d", ""])
    ]
    stand_in.add_role("Global Administrator", *odd)
    assert await directory.admin_emails() == []


async def test_admin_emails_are_bounded(directory: GraphDirectory, stand_in: GraphStandIn) -> None:
    many = [
        stand_in.add_user(f"admin{n:03}@contoso.com", "Admin", mail=f"admin{n:03}@contoso.com")
        for n in range(130)
    ]
    stand_in.add_role("Global Administrator", *many)
    stand_in.page_size = 50
    emails = await directory.admin_emails()
    assert len(emails) == 100
    assert len(stand_in.graph_requests("GET", GLOBAL_ADMINISTRATORS)) == 2


async def test_a_tenant_without_the_role_has_no_admin_emails(
    directory: GraphDirectory, stand_in: GraphStandIn
) -> None:
    assert await directory.admin_emails() == []
    assert stand_in.graph_requests("GET", GLOBAL_ADMINISTRATORS)


@pytest.mark.parametrize(
    ("fault", "said"), [(forbidden(), "403"), (internal_error(), "500"), (hang(), "did not answer")]
)
async def test_admin_emails_errors_are_unavailable(
    make_directory: MakeDirectory, stand_in: GraphStandIn, admins: list[User], fault: Any, said: str
) -> None:
    directory = await make_directory(timeout=0.3)
    stand_in.fail_next(fault)
    with pytest.raises(DirectoryUnavailable, match=said):
        await directory.admin_emails()


async def test_admin_emails_wait_out_throttling(
    directory: GraphDirectory, stand_in: GraphStandIn, admins: list[User], sleeps: Sleeps
) -> None:
    stand_in.fail_next(throttled("2"))
    assert len(await directory.admin_emails()) == 2
    assert sleeps.calls == [2.0]


async def test_a_page_that_goes_missing_is_unavailable_not_empty(
    directory: GraphDirectory, stand_in: GraphStandIn, admins: list[User]
) -> None:
    stand_in.page_size = 2
    stand_in.fail_next(None, Fault(404, "Request_ResourceNotFound", "Resource does not exist."))
    with pytest.raises(DirectoryUnavailable, match="404"):
        await directory.admin_emails()


async def test_accounts_are_the_enabled_users_page_by_page(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    admin = stand_in.add_user("admin@contoso.com", "Adele Admin")
    stand_in.add_role("Global Administrator", admin)
    stand_in.add_user("gone@contoso.com", "Gone Away", enabled=False)
    for n in range(3):
        stand_in.add_user(f"user{n}@contoso.com", f"User {n}", mobile_phone=f"+1 425 555 010{n}")
    stand_in.users_page_size = 2

    listed = [account async for account in directory.accounts()]

    assert [account.username for account in listed] == [
        "alice@contoso.com",
        "admin@contoso.com",
        "user0@contoso.com",
        "user1@contoso.com",
        "user2@contoso.com",
    ]
    assert [account.is_admin for account in listed] == [False, True, False, False, False]
    assert listed[0] == await found(directory, "alice@contoso.com")  # as `find` maps it
    pages = [r for r in stand_in.graph_requests("GET", "/users") if "$filter" not in r.query]
    assert len(pages) == 3  # six users, two a page, through @odata.nextLink
    assert pages[0].query["$top"] == "999"
    assert pages[0].query["$select"] == USER_FIELDS
    assert all(page.query["$select"] == USER_FIELDS for page in pages[1:])
    assert len({page.query["$skiptoken"] for page in pages[1:]}) == 2


async def test_a_refused_listing_is_unavailable(
    directory: GraphDirectory, stand_in: GraphStandIn, alice: User
) -> None:
    stand_in.fail_next(forbidden())
    with pytest.raises(DirectoryUnavailable, match="403"):
        [account async for account in directory.accounts()]
