"""A real OpenLDAP `slapd` for the tests, on free 127.0.0.1 ports in a temporary directory.

`SlapdServer` writes a cn=config LDIF, loads it with `slapadd -n0`, and runs `slapd` in the
foreground with the `stats` log level (every operation, filters included, goes to
`slapd.log`; passwords never do). The database is one mdb suffix, `dc=example,dc=org`, with:

- the `memberof` overlay (groupOfNames `member` -> `memberOf`),
- the `ppolicy` overlay, its default policy `cn=default,ou=policies`: at least 8
  characters, the last 3 passwords refused, quality checked, locked after 3 failed binds
  (until unlocked), cleartext passwords hashed,
- TLS with a certificate from a throwaway CA: StartTLS on `url`, LDAPS on `ldaps_url`,
- slapd's default limits: a search, paged or not, sends the bot at most 500 entries
  (olcSizeLimit's default), as on a stock server. A test changes the bot DN's limits
  with the `bot_limits` fixture, through cn=config (`config()` binds as its root DN).

Who is who (`seed_entries` creates them once, as the root DN, so the overlays see them):

| entry | what it is for |
| --- | --- |
| `cn=sspr-bot,ou=services` | the bot's bind DN (`BOT_DN`): reads everything, sets passwords |
| | (not under `ou=protected`), manages ppolicy's lockout attributes |
| uid `alice` | mail, mobile and telephoneNumber; a direct member of `sspr-users` |
| uid `bob` | only mail; in no group but `contractors` (a groupOfUniqueNames) |
| uid `carol` | in `sales`, which is a member of `sspr-users` (nested) |
| uid `dave` | disabled: `pwdAccountLockedTime: 000001010000Z`; in `sspr-users` |
| uid `erin` | an admin: in `it-admins` and `sspr-users`, and in `security-team` |
| uid `grace` | an admin through `security-team` (a groupOfUniqueNames in `it-admins`) |
| uid `heidi` | an admin without mail: a direct member of `it-admins` |
| uid `olivia` (ou=protected) | an account the bot may read but whose password it may not set |
| `cycle-a`, `cycle-b` | two groups that contain each other |

Every seeded user's password is `SEED_PASSWORD`. Tests that change an account make one of
their own with the `make_ldap_user` fixture (removed at the end of the test), so the
seeded accounts stay as described for the whole session.
"""

import contextlib
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from adapters.directory.ldap.library import ldap3
from tests.support.ports import HOST, free_port
from tests.support.tls import TlsFiles, write_tls_files

SLAPD = "slapd"
SLAPADD = "slapadd"
PACKAGES = "apt-get install slapd ldap-utils"
MODULE_PATH = Path("/usr/lib/ldap")
SCHEMA_PATH = Path("/etc/ldap/schema")

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
CONFIG_ROOT_DN = "cn=config"
DATABASE_CONFIG_DN = "olcDatabase={1}mdb,cn=config"
BOT_DN = f"cn=sspr-bot,ou=services,{SUFFIX}"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
PROTECTED = f"ou=protected,{SUFFIX}"
POLICY_DN = f"cn=default,ou=policies,{SUFFIX}"
SEED_PASSWORD = "Seed-password-1"
# ppolicy's "locked by an administrator" value (not a time): the adapter reads it as disabled.
DISABLED_TIME = "000001010000Z"
POLICY_MIN_LENGTH = 8
POLICY_HISTORY = 3
POLICY_MAX_FAILURE = 3

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def slapd_binaries() -> tuple[str, str]:
    slapd, slapadd = shutil.which(SLAPD), shutil.which(SLAPADD)
    if slapd is None or slapadd is None:
        pytest.fail(f"slapd or slapadd not found: {PACKAGES}", pytrace=False)
    return slapd, slapadd


def user_dn(uid: str, container: str = PEOPLE) -> str:
    return f"uid={uid},{container}"


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


class SlapdServer:
    """One slapd on 127.0.0.1 (a plain/StartTLS port and an LDAPS port)."""

    def __init__(self, directory: Path, *, seed: bool = True, map_size: int | None = None) -> None:
        """`map_size`: the database's size limit in bytes (slapd's default, 10 MiB, holds
        a few thousand people)."""
        self.directory = directory
        self.map_size = map_size
        self.tls: TlsFiles = write_tls_files(directory / "tls")
        self.root_password = secrets.token_urlsafe(18)
        self.bot_password = secrets.token_urlsafe(18)
        self.seed = seed
        self.port = 0
        self.tls_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._configured = False

    @property
    def url(self) -> str:
        """Plain LDAP (StartTLS available)."""
        return f"ldap://{HOST}:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{HOST}:{self.tls_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "slapd.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def directory_config(self, **overrides: Any) -> dict[str, Any]:
        """The `ldap` section of the bot's directory settings for this server, as data:
        StartTLS on the plain port, the throwaway CA, the bot's own bind DN, admins in
        `it-admins`. The bind password goes in the environment (`environ`)."""
        config: dict[str, Any] = {
            "flavour": "openldap",
            "urls": [self.url],
            "start_tls": True,
            "ca_file": str(self.tls.ca),
            "bind_dn": BOT_DN,
            "base_dn": SUFFIX,
            "admin_groups": ["it-admins"],
            "pool_size": 2,
            "timeout": 5.0,
        }
        config.update(overrides)
        return config

    @property
    def environ(self) -> dict[str, str]:
        """The environment the bot reads its bind password from."""
        return {"SSPR_LDAP_BIND_PASSWORD": self.bot_password}

    def start(self) -> None:
        """Configure (the first time), start, wait until a bind succeeds, seed (once)."""
        if self.running:
            return
        slapd, slapadd = slapd_binaries()
        if not self._configured:
            self._configure(slapadd)
        attempts = 3 if self.port == 0 else 1
        for attempt in range(1, attempts + 1):
            if attempts > 1:
                self.port, self.tls_port = free_port(), free_port()
            if self._spawn(slapd, last_attempt=attempt == attempts):
                break
        if self.seed:
            self.seed = False
            with self.root() as connection:
                for dn, attributes in seed_entries(self.bot_password):
                    _add(connection, dn, attributes)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def connect(self, dn: str, password: str) -> ldap3.Connection:
        """A synchronous connection bound as `dn` over plain LDAP; raises LDAPException
        when the bind is refused. Close it with `unbind()`."""
        server = ldap3.Server(HOST, port=self.port, get_info=ldap3.NONE, connect_timeout=5)
        connection = ldap3.Connection(
            server, user=dn, password=password, raise_exceptions=True, receive_timeout=5
        )
        try:
            connection.open(read_server_info=False)
            connection.bind(read_server_info=False)
        except BaseException:
            _close(connection)
            raise
        return connection

    def root(self) -> "_Bound":
        """The root DN (every policy bypassed), for seeding and for inspecting entries."""
        return _Bound(self.connect(ROOT_DN, self.root_password))

    def config(self) -> "_Bound":
        """cn=config's root DN, for changing the running server's configuration."""
        return _Bound(self.connect(CONFIG_ROOT_DN, self.root_password))

    def limit_bot(self, *limits: str) -> None:
        """The bot DN's limits on the database (`olcLimits`), e.g. "size.prtotal=5"; none
        given: slapd's defaults again (500 entries a search, paged or not)."""
        value = [f'dn.exact="{BOT_DN}" {" ".join(limits)}'] if limits else []
        with self.config() as connection:
            connection.modify(DATABASE_CONFIG_DN, {"olcLimits": [(ldap3.MODIFY_REPLACE, value)]})

    def can_bind(self, dn: str, password: str) -> bool:
        """Whether `dn` signs in with `password` (a failure counts towards ppolicy's lockout)."""
        try:
            self.connect(dn, password).unbind()
        except ldap3.core.exceptions.LDAPException:
            return False
        return True

    def lock_out(self, dn: str) -> None:
        """Fail `dn`'s bind until ppolicy locks it, and check the lock on the entry.

        The lock is read from `pwdAccountLockedTime`, not proved by a bind with the right
        password: slapd weighs the lock's timestamp against a clock that can be a moment
        behind it at a second's edge, so a bind right after the lock may still pass."""
        for _ in range(POLICY_MAX_FAILURE):
            assert not self.can_bind(dn, "wrong password")
        assert self.read(dn, "pwdAccountLockedTime"), f"ppolicy did not lock {dn}"

    def read(self, dn: str, *attributes: str) -> dict[str, list[str]]:
        """Attributes of one entry (operational ones too, when named), as the root DN."""
        with self.root() as connection:
            connection.search(dn, "(objectClass=*)", ldap3.BASE, attributes=list(attributes))
            entry = connection.response[0]
            return {
                name: [value.decode() for value in values]
                for name, values in entry["raw_attributes"].items()
                if values
            }

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _configure(self, slapadd: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "data").mkdir(mode=0o700, exist_ok=True)
        config_dir = self.directory / "slapd.d"
        config_dir.mkdir(mode=0o700, exist_ok=True)
        ldif = self.directory / "config.ldif"
        ldif.write_text(self._config_ldif())
        loaded = subprocess.run(
            [slapadd, "-n0", "-F", str(config_dir), "-l", str(ldif)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
        if loaded.returncode != 0:
            pytest.fail(f"slapadd -n0 failed:\n{loaded.stdout}{loaded.stderr}", pytrace=False)
        self._configured = True

    def _config_ldif(self) -> str:
        directory = self.directory
        size_limit = f"olcDbMaxSize: {self.map_size}\n" if self.map_size else ""
        bot = f'dn.exact="{BOT_DN}"'
        return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {directory}/slapd.pid
olcArgsFile: {directory}/slapd.args
olcTLSCACertificateFile: {self.tls.ca}
olcTLSCertificateFile: {self.tls.certificate}
olcTLSCertificateKeyFile: {self.tls.key}

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_PATH}
olcModuleLoad: {{0}}back_mdb
olcModuleLoad: {{1}}ppolicy
olcModuleLoad: {{2}}memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://{SCHEMA_PATH}/core.ldif

include: file://{SCHEMA_PATH}/cosine.ldif

include: file://{SCHEMA_PATH}/inetorgperson.ldif

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcRootDN: {CONFIG_ROOT_DN}
olcRootPW: {self.root_password}
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {directory}/data
{size_limit}olcSuffix: {SUFFIX}
olcRootDN: {ROOT_DN}
olcRootPW: {self.root_password}
olcDbIndex: objectClass eq
olcDbIndex: uid,mail,cn,entryUUID eq
olcDbIndex: member,uniqueMember eq
olcAccess: {{0}}to dn.subtree="{PROTECTED}" attrs=userPassword
  by self write by anonymous auth by * none
olcAccess: {{1}}to attrs=userPassword by {bot} write by self write by anonymous auth by * none
olcAccess: {{2}}to attrs=pwdAccountLockedTime,pwdFailureTime,pwdReset by {bot} manage by * none
olcAccess: {{3}}to * by {bot} read by self read by * none

dn: olcOverlay={{0}}memberof,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {{0}}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf

dn: olcOverlay={{1}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{1}}ppolicy
olcPPolicyDefault: {POLICY_DN}
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: FALSE
"""

    def _spawn(self, slapd: str, *, last_attempt: bool) -> bool:
        """Run slapd; True once the root DN can bind, False if a port was taken meanwhile."""
        command = [
            slapd,
            "-F",
            str(self.directory / "slapd.d"),
            "-h",
            f"{self.url}/ {self.ldaps_url}/",
            "-d",
            "stats",
        ]
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        self._process = process
        deadline = time.monotonic() + START_TIMEOUT
        pause = 0.005
        while True:
            if self._answers():
                return True
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"slapd did not answer within {START_TIMEOUT} s:\n{self._tail()}")
            try:
                process.wait(timeout=pause)
            except subprocess.TimeoutExpired:
                pause = min(pause * 2, 0.1)
                continue
            self._process = None
            tail = self._tail()
            if "Address already in use" in tail and not last_attempt:
                return False
            pytest.fail(f"slapd exited with {process.returncode}:\n{tail}", pytrace=False)

    def _answers(self) -> bool:
        """Whether the root DN can bind now (a plain connect first, so that a refused
        connection leaves no socket behind)."""
        try:
            with socket.create_connection((HOST, self.port), timeout=1):
                pass
        except OSError:
            return False
        try:
            self.connect(ROOT_DN, self.root_password).unbind()
        except ldap3.core.exceptions.LDAPException:
            return False
        return True

    def _tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


class _Bound:
    """A bound connection as a context manager (unbound at the end)."""

    def __init__(self, connection: ldap3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> ldap3.Connection:
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.unbind()


def _close(connection: ldap3.Connection) -> None:
    """Unbind, and close the socket that ldap3 leaves open after a refused bind."""
    with contextlib.suppress(ldap3.core.exceptions.LDAPException, OSError):
        connection.unbind()
    if connection.socket is not None:
        connection.socket.close()


def _add(connection: ldap3.Connection, dn: str, attributes: Mapping[str, Any]) -> None:
    classes = attributes["objectClass"]
    rest = {name: value for name, value in attributes.items() if name != "objectClass"}
    connection.add(dn, classes, rest)


def person(uid: str, display_name: str, **attributes: Any) -> dict[str, Any]:
    """An inetOrgPerson with the seed password (given in clear: ppolicy hashes it)."""
    given, _, surname = display_name.partition(" ")
    return {
        "objectClass": ["inetOrgPerson"],
        "uid": uid,
        "cn": display_name,
        "sn": surname or given,
        "displayName": display_name,
        "userPassword": SEED_PASSWORD,
        **attributes,
    }


def seed_entries(bot_password: str) -> list[tuple[str, dict[str, Any]]]:
    """The session's entries, parents first (see the module docstring)."""
    organizational = ["organizationalUnit"]
    return [
        (SUFFIX, {"objectClass": ["dcObject", "organization"], "dc": "example", "o": "Example"}),
        (f"ou=policies,{SUFFIX}", {"objectClass": organizational, "ou": "policies"}),
        (
            POLICY_DN,
            {
                "objectClass": ["organizationalRole", "pwdPolicy"],
                "cn": "default",
                "pwdAttribute": "userPassword",
                "pwdMinLength": str(POLICY_MIN_LENGTH),
                "pwdInHistory": str(POLICY_HISTORY),
                "pwdCheckQuality": "2",
                "pwdLockout": "TRUE",
                "pwdMaxFailure": str(POLICY_MAX_FAILURE),
                "pwdLockoutDuration": "0",
                "pwdMustChange": "FALSE",
                "pwdAllowUserChange": "TRUE",
                "pwdSafeModify": "FALSE",
            },
        ),
        (f"ou=services,{SUFFIX}", {"objectClass": organizational, "ou": "services"}),
        (PEOPLE, {"objectClass": organizational, "ou": "people"}),
        (GROUPS, {"objectClass": organizational, "ou": "groups"}),
        (PROTECTED, {"objectClass": organizational, "ou": "protected"}),
        (
            user_dn("alice"),
            person(
                "alice",
                "Alice Example",
                mail="alice@example.org",
                mobile="+15550100001",
                telephoneNumber="+15550100002",
            ),
        ),
        (user_dn("bob"), person("bob", "Bob Example", mail="bob@example.org")),
        (user_dn("carol"), person("carol", "Carol Example", mail="carol@example.org")),
        (
            user_dn("dave"),
            person(
                "dave", "Dave Example", mail="dave@example.org", pwdAccountLockedTime=DISABLED_TIME
            ),
        ),
        (user_dn("erin"), person("erin", "Erin Example", mail="erin@example.org")),
        (user_dn("grace"), person("grace", "Grace Example", mail="grace@example.org")),
        (user_dn("heidi"), person("heidi", "Heidi Example")),
        (
            user_dn("olivia", PROTECTED),
            person("olivia", "Olivia Example", mail="olivia@example.org"),
        ),
        (
            group_dn("sales"),
            {"objectClass": ["groupOfNames"], "cn": "sales", "member": [user_dn("carol")]},
        ),
        (
            group_dn("security-team"),
            {
                "objectClass": ["groupOfUniqueNames"],
                "cn": "security-team",
                "uniqueMember": [user_dn("grace"), user_dn("erin")],
            },
        ),
        (
            group_dn("it-admins"),
            {
                "objectClass": ["groupOfNames"],
                "cn": "it-admins",
                "member": [user_dn("erin"), user_dn("heidi"), group_dn("security-team")],
            },
        ),
        (
            group_dn("sspr-users"),
            {
                "objectClass": ["groupOfNames"],
                "cn": "sspr-users",
                "member": [user_dn("alice"), user_dn("dave"), user_dn("erin"), group_dn("sales")],
            },
        ),
        (
            group_dn("contractors"),
            {
                "objectClass": ["groupOfUniqueNames"],
                "cn": "contractors",
                "uniqueMember": [user_dn("bob")],
            },
        ),
        (
            group_dn("cycle-a"),
            {"objectClass": ["groupOfNames"], "cn": "cycle-a", "member": [group_dn("cycle-b")]},
        ),
        (
            group_dn("cycle-b"),
            {"objectClass": ["groupOfNames"], "cn": "cycle-b", "member": [group_dn("cycle-a")]},
        ),
        (
            BOT_DN,
            {
                "objectClass": ["applicationProcess", "simpleSecurityObject"],
                "cn": "sspr-bot",
                "userPassword": bot_password,
            },
        ),
    ]


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    """One seeded slapd for the whole session (see the module docstring for its entries)."""
    server = SlapdServer(tmp_path_factory.mktemp("slapd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bot_limits(slapd: SlapdServer) -> Iterator[Callable[..., None]]:
    """Sets the bot DN's limits for this test: `bot_limits("size.prtotal=5")` (slapd's
    olcLimits syntax); slapd's defaults again at its end."""
    yield slapd.limit_bot
    slapd.limit_bot()


@pytest.fixture
def make_ldap_user(slapd: SlapdServer) -> Iterator[Callable[..., str]]:
    """Adds users of this test's own under ou=people and removes them at its end:
    `uid = make_ldap_user(groups=["sspr-users"], mail=...)`. Each has `SEED_PASSWORD`."""
    made: list[tuple[str, Sequence[str]]] = []

    def make(groups: Sequence[str] = (), **attributes: Any) -> str:
        uid = f"t{secrets.token_hex(4)}"
        dn = user_dn(uid)
        with slapd.root() as connection:
            _add(connection, dn, person(uid, f"Test {uid}", **attributes))
            for group in groups:
                connection.modify(group_dn(group), {"member": [(ldap3.MODIFY_ADD, [dn])]})
        made.append((dn, groups))
        return uid

    yield make
    with slapd.root() as connection:
        for dn, groups in made:
            for group in groups:
                connection.modify(group_dn(group), {"member": [(ldap3.MODIFY_DELETE, [dn])]})
            connection.delete(dn)
