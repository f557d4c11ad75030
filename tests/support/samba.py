"""A throwaway Active Directory domain: Samba as a domain controller on a loopback address
of its own.

`samba_ad` (session scope, on first use) provisions the domain SSPR.TEST (NetBIOS `SSPR`,
base DN `DC=sspr,DC=test`) in a temporary directory with `samba-tool domain provision
--server-role=dc --dns-backend=NONE --targetdir=...`, starts `samba -i -M single` on that
configuration with only its LDAP service, and returns once an LDAPS bind as Administrator
succeeds. Samba's LDAP ports are fixed (389, 636, and the global catalog's 3268, 3269), so
each DC takes a random 127.x.y.z address on which they are free
(`tests.support.ports.free_loopback_address`, `SambaDC.host`) and binds to it alone
(`interfaces`, `bind interfaces only`): two test runs on one machine never collide. Nothing
outside the temporary directory is written: the configuration file, the pid, the logs and
the databases all live there, and the DC's host name is `dc1` whatever the machine is
called.

TLS: Samba would make itself a certificate for `DC1.sspr.test` (its NetBIOS name and DNS
domain, no subjectAltName), which a client connecting to an address cannot verify. So the
fixture writes a throwaway CA and a certificate for the DC's address and localhost
(`tests.support.tls.write_tls_files`) and points `tls keyfile`, `tls certfile` and `tls cafile`
at them; `SambaDC.ca_file` is that CA, what a client trusts.

Two settings differ from a default DC, both for the tests' sake: `ldap server require
strong auth = no` lets simple binds through on plain LDAP (as many real DCs do), so that the
adapter's own refusal to send a password there is what a test sees; `old password allowed
period = 0` stops Samba from accepting the previous password for an hour after a change
(simple binds included), so that a reset takes effect at once.

The domain is seeded over LDAPS, as Administrator, with what the adapter tests need:

- the password policy: complexity on, history 3, minimum length 8, no minimum age,
  lockout after 3 wrong passwords (`pwdProperties`, `pwdHistoryLength`, `minPwdLength`,
  `minPwdAge`, `lockoutThreshold` on the domain object: what `samba-tool domain
  passwordsettings set --complexity=on --history-length=3 --min-pwd-length=8
  --min-pwd-age=0 --account-lockout-threshold=3` sets);
- in CN=Users: `alice` (UPN alice@sspr.test, mail, mobile, telephoneNumber), `bob`,
  `carol` (member of `sales`, itself a member of `sspr-users`: nested), `dave` (disabled),
  `erin` (for lockout tests), `sspr-admin` (a member of Domain Admins, no mail, like
  Administrator), `frank` (a member of Domain Admins with mail), `gina` (disabled, a
  member of Domain Admins with mail), `hana` (mail `Hana.Hill@sspr.test`, a member of
  `tier0-admins`, itself a member of Domain Admins: nested); every UPN is
  `name@sspr.test`, every password is random and kept in `SambaDC.passwords`.

`ad` (function scope) hands the same domain to a test after putting every seeded user back
as seeded: its password, no lockout, no must-change, enabled or not as seeded. Register the
fixtures by naming them in a test module (`ad = samba_dc.ad`, with `samba_ad`) or with
`pytest_plugins = ["tests.support.samba"]` in tests/conftest.py.
"""

import contextlib
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.directory.ldap.library import ldap3
from tests.support.ports import free_loopback_address
from tests.support.tls import write_tls_files

LDAPException = ldap3.core.exceptions.LDAPException

SAMBA = "samba"
SAMBA_TOOL = "samba-tool"
# Both live in /usr/sbin or /usr/bin, which a non-root PATH may lack.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin"])
PACKAGES = "apt-get install samba samba-ad-dc"

HOST_NAME = "dc1"
REALM = "SSPR.TEST"
DOMAIN = "SSPR"
DNS_DOMAIN = "sspr.test"
BASE_DN = "DC=sspr,DC=test"
USERS_DN = f"CN=Users,{BASE_DN}"
LDAP_PORT = 389
LDAPS_PORT = 636
# The global catalog's ports: Samba's LDAP service listens on them as well.
ALL_PORTS = (LDAP_PORT, LDAPS_PORT, 3268, 3269)

# How long provisioning may take, how long Samba may take to accept the first LDAPS bind,
# and how long it may take to exit after SIGTERM.
PROVISION_TIMEOUT = 120.0
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

# The password policy the domain is given.
LOCKOUT_THRESHOLD = 3
HISTORY_LENGTH = 3
MIN_PASSWORD_LENGTH = 8

# userAccountControl: a normal account, and the flag that disables it.
NORMAL_ACCOUNT = 0x200
ACCOUNTDISABLE = 0x2

# The "data" code of AD's bind errors (`80090308: LdapErr: ..., data 52e, v1db1`).
BIND_ERRORS = {
    "52e": "invalid credentials",
    "530": "not permitted to log on at this time",
    "531": "not permitted to log on at this workstation",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "user must reset password",
    "775": "account locked out",
}


@dataclass(frozen=True)
class SeedUser:
    """A user the fixture creates in CN=Users (`name` is its sAMAccountName and CN)."""

    name: str
    display_name: str
    enabled: bool = True
    groups: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=dict)


SEED_GROUPS: dict[str, tuple[str, ...]] = {
    # group: the groups it is a member of (created in this order)
    "sspr-users": (),
    "sales": ("sspr-users",),
    "tier0-admins": ("Domain Admins",),
}

SEED_USERS = (
    SeedUser(
        "alice",
        "Alice Archer",
        attributes={
            "givenName": "Alice",
            "sn": "Archer",
            "mail": "alice@sspr.test",
            "mobile": "+15550100001",
            "telephoneNumber": "+15550100002",
        },
    ),
    SeedUser("bob", "Bob Baker", attributes={"mail": "bob@sspr.test"}),
    SeedUser("carol", "Carol Cooper", groups=("sales",)),
    SeedUser("dave", "Dave Dunn", enabled=False),
    SeedUser("erin", "Erin Evans"),
    SeedUser("sspr-admin", "SSPR Admin", groups=("Domain Admins",)),
    SeedUser(
        "frank", "Frank Foster", groups=("Domain Admins",), attributes={"mail": "frank@sspr.test"}
    ),
    SeedUser(
        "gina",
        "Gina Grey",
        enabled=False,
        groups=("Domain Admins",),
        attributes={"mail": "gina@sspr.test"},
    ),
    SeedUser(
        "hana", "Hana Hill", groups=("tier0-admins",), attributes={"mail": "Hana.Hill@sspr.test"}
    ),
)


def ad_password(password: str) -> bytes:
    """A password as AD's `unicodePwd` takes it: quoted, UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


def seed_password() -> str:
    """A random password meeting the complexity rules (upper, lower, digit, symbol)."""
    return f"Seed-{secrets.token_hex(8)}-9x"


def _binary(name: str) -> str:
    binary = shutil.which(name, path=SEARCH_PATH)
    if binary is None:
        pytest.fail(f"{name} not found: {PACKAGES}", pytrace=False)
    return binary


def _listening(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _close(connection: ldap3.Connection) -> None:
    """Unbind, and close the socket even when the connection never got anywhere (ldap3
    leaves it open after a failed connect or handshake)."""
    with contextlib.suppress(LDAPException, OSError):
        connection.unbind()
    sock = getattr(connection, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def _bind_error(connection: ldap3.Connection) -> str:
    """AD's data code (`52e`, `775`...) of a failed bind, or the whole message."""
    message: str = connection.result.get("message", "") or connection.result["description"]
    marker = ", data "
    if marker in message:
        return message.split(marker, 1)[1].split(",", 1)[0]
    return message


class _VerifyingTls(ldap3.Tls):  # type: ignore[misc]
    """ldap3's Tls with the handshake verifying chain and host name through a standard
    SSLContext (ldap3 2.9.1's own name check calls the deprecated `ssl.match_hostname`,
    which the test suite's warning filter turns into a failed connection)."""

    def __init__(self, ca_file: Path) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED, ca_certs_file=str(ca_file))
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def wrap_socket(self, connection: ldap3.Connection, do_handshake: bool = False) -> None:
        connection.socket = self.context.wrap_socket(
            connection.socket, server_hostname=connection.server.host
        )


class SambaDC:
    """One Samba AD domain controller on a loopback address of its own (`host`), in its
    own temporary directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.host = free_loopback_address(ALL_PORTS)
        self.admin_password = seed_password()
        self.passwords: dict[str, str] = {user.name: seed_password() for user in SEED_USERS}
        self.tls = write_tls_files(directory / "tls", self.host)
        self._process: subprocess.Popen[bytes] | None = None
        self._admin: ldap3.Connection | None = None
        self._usn: dict[str, int] = {}  # uSNChanged of each seeded user, as seeded

    # What a client needs.

    base_dn = BASE_DN
    users_dn = USERS_DN
    realm = REALM
    admin_dn = f"CN=Administrator,{USERS_DN}"
    lockout_threshold = LOCKOUT_THRESHOLD

    @property
    def ldap_url(self) -> str:
        return f"ldap://{self.host}:{LDAP_PORT}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.host}:{LDAPS_PORT}"

    @property
    def ca_file(self) -> Path:
        """The CA that signed the certificate Samba presents on LDAPS (and StartTLS)."""
        return self.tls.ca

    @property
    def config(self) -> Path:
        return self.directory / "etc" / "smb.conf"

    @property
    def log(self) -> Path:
        return self.directory / "samba.log"

    @staticmethod
    def dn(name: str) -> str:
        """The DN of a seeded user or group (all live in CN=Users)."""
        return f"CN={name},{USERS_DN}"

    @staticmethod
    def upn(name: str) -> str:
        return f"{name}@{DNS_DOMAIN}"

    def directory_config(self, **overrides: Any) -> dict[str, Any]:
        """The `ldap` section of the bot's directory settings for this domain, as data:
        LDAPS with the fixture's CA, bound as Administrator, admins in Domain Admins. The
        bind password goes in the environment (`environ`)."""
        config: dict[str, Any] = {
            "flavour": "active_directory",
            "urls": [self.ldaps_url],
            "ca_file": str(self.ca_file),
            "bind_dn": self.admin_dn,
            "base_dn": self.base_dn,
            "admin_groups": ["Domain Admins"],
            "pool_size": 2,
            "timeout": 5.0,
        }
        config.update(overrides)
        return config

    @property
    def environ(self) -> dict[str, str]:
        """The environment the bot reads its bind password from."""
        return {"SSPR_LDAP_BIND_PASSWORD": self.admin_password}

    # Life cycle.

    def provision(self) -> None:
        """Provision the domain into the directory, then tailor its smb.conf."""
        tool = _binary(SAMBA_TOOL)
        _binary(SAMBA)
        empty = self.directory / "empty.conf"
        empty.write_text("")  # not the machine's /etc/samba/smb.conf as a template
        command = [
            tool,
            "domain",
            "provision",
            f"--configfile={empty}",
            "--server-role=dc",
            "--dns-backend=NONE",
            "--use-rfc2307",
            f"--realm={REALM}",
            f"--domain={DOMAIN}",
            f"--host-name={HOST_NAME}",
            f"--host-ip={self.host}",
            f"--adminpass={self.admin_password}",
            f"--targetdir={self.directory}",
            f"--option=interfaces = {self.host}/8",
            "--option=bind interfaces only = yes",
        ]
        log = self.directory / "provision.log"
        with log.open("wb") as output:
            try:
                done = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=self._environment(),
                    timeout=PROVISION_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"samba-tool domain provision took over {PROVISION_TIMEOUT} s:\n{_tail(log)}"
                )
        if done.returncode != 0:
            pytest.fail(f"samba-tool domain provision failed ({done.returncode}):\n{_tail(log)}")
        run = self.directory / "run"
        run.mkdir(exist_ok=True)
        extra = {
            # Only the LDAP server: no smbd, KDC, DNS, NetBIOS or RPC ports to collide on.
            "server services": "ldap",
            # Simple binds on plain LDAP, as many real DCs allow: the adapter, not the
            # server, has to refuse sending a password there.
            "ldap server require strong auth": "no",
            # Samba (like Windows for NTLM) accepts the previous password for 60 minutes
            # after a change by default, simple binds included: off, so a test sees a
            # reset take effect at once.
            "old password allowed period": "0",
            "tls enabled": "yes",
            "tls keyfile": str(self.tls.key),
            "tls certfile": str(self.tls.certificate),
            "tls cafile": str(self.tls.ca),
            "pid directory": str(run),
            "ncalrpc dir": str(self.directory / "ncalrpc"),
            "log file": str(self.directory / "log.%m"),
        }
        lines = self.config.read_text().splitlines()
        at = lines.index("[global]") + 1
        lines[at:at] = [f"\t{key} = {value}" for key, value in extra.items()]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        """Start Samba and return once an LDAPS bind as Administrator succeeds."""
        if self.running:
            return
        taken = [port for port in ALL_PORTS if _listening(self.host, port)]
        if taken:
            pytest.fail(
                f"something already listens on {self.host} port(s) {taken}: the Samba AD "
                "fixture needs 389, 636, 3268 and 3269 there",
                pytrace=False,
            )
        with self.log.open("ab") as log:
            # -i: in the foreground, logging to stdout, and ending when its stdin closes,
            # so Samba goes with this process even if the fixture never stops it.
            process = subprocess.Popen(
                [_binary(SAMBA), "-s", str(self.config), "-i", "-M", "single"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._environment(),
            )
        self._process = process
        deadline = time.monotonic() + START_TIMEOUT
        pause = 0.01
        while True:
            try:
                self.admin()
                return
            except LDAPException as exc:
                problem = str(exc)
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail(
                    f"samba did not accept an LDAPS bind within {START_TIMEOUT} s "
                    f"({problem}):\n{_tail(self.log)}"
                )
            try:
                process.wait(timeout=pause)
            except subprocess.TimeoutExpired:
                pause = min(pause * 2, 0.2)
                continue
            self._process = None
            hint = "" if os.geteuid() == 0 else " (ports 389 and 636 need root)"
            pytest.fail(f"samba exited with {process.returncode}{hint}:\n{_tail(self.log)}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if Samba has not exited within STOP_TIMEOUT."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def _end(self, how: signal.Signals) -> None:
        if self._admin is not None:
            _close(self._admin)
            self._admin = None
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(how)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        finally:
            if process.stdin is not None:
                process.stdin.close()

    @staticmethod
    def _environment() -> dict[str, str]:
        # samba-tool is the system Python's: keep a virtualenv's settings away from it.
        environ = {
            key: value
            for key, value in os.environ.items()
            if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        }
        environ["PATH"] = SEARCH_PATH
        return environ

    # Connections.

    def tls_settings(self) -> ldap3.Tls:
        return _VerifyingTls(self.ca_file)

    def connect(self, dn: str, password: str, *, tls: bool = True) -> ldap3.Connection:
        """A connection (not yet bound) as `dn`, over LDAPS or, `tls=False`, plain LDAP."""
        server = ldap3.Server(
            self.ldaps_url if tls else self.ldap_url,
            tls=self.tls_settings() if tls else None,
            get_info=ldap3.NONE,
            connect_timeout=5,
        )
        return ldap3.Connection(server, dn, password, receive_timeout=10)

    def admin(self) -> ldap3.Connection:
        """The fixture's own LDAPS connection as Administrator (opened on first use)."""
        if self._admin is None or self._admin.closed:
            connection = self.connect(self.admin_dn, self.admin_password)
            try:
                if not connection.bind():
                    raise LDAPException(f"Administrator bind failed: {connection.result}")
            except LDAPException:
                _close(connection)
                raise
            self._admin = connection
        return self._admin

    def _check(self, done: bool, what: str) -> None:
        if not done:
            pytest.fail(f"{what}: {self.admin().result}", pytrace=False)

    # Seeding.

    def seed(self) -> None:
        """The password policy, the groups and the users of the module docstring."""
        admin = self.admin()
        policy = {
            "pwdProperties": 1,  # DOMAIN_PASSWORD_COMPLEX
            "pwdHistoryLength": HISTORY_LENGTH,
            "minPwdLength": MIN_PASSWORD_LENGTH,
            "minPwdAge": 0,
            "lockoutThreshold": LOCKOUT_THRESHOLD,
        }
        self._check(
            admin.modify(
                BASE_DN,
                {key: [(ldap3.MODIFY_REPLACE, [str(value)])] for key, value in policy.items()},
            ),
            "setting the password policy",
        )
        for group, member_of in SEED_GROUPS.items():
            self._check(
                admin.add(self.dn(group), ["top", "group"], {"sAMAccountName": group}),
                f"adding group {group}",
            )
            for parent in member_of:
                self._add_member(parent, self.dn(group))
        for user in SEED_USERS:
            control = NORMAL_ACCOUNT | (0 if user.enabled else ACCOUNTDISABLE)
            attributes: dict[str, Any] = {
                "sAMAccountName": user.name,
                "userPrincipalName": self.upn(user.name),
                "displayName": user.display_name,
                "unicodePwd": ad_password(self.passwords[user.name]),
                "userAccountControl": str(control),
                **user.attributes,
            }
            self._check(
                admin.add(
                    self.dn(user.name),
                    ["top", "person", "organizationalPerson", "user"],
                    attributes,
                ),
                f"adding user {user.name}",
            )
            for group in user.groups:
                self._add_member(group, self.dn(user.name))
        self._changed_users(remember=True)

    def _add_member(self, group: str, member: str) -> None:
        self._check(
            self.admin().modify(self.dn(group), {"member": [(ldap3.MODIFY_ADD, [member])]}),
            f"adding {member} to {group}",
        )

    def restore(self) -> None:
        """Every seeded user as seeded: its password (an admin reset, which AD does not
        check against the history), no lockout or failed binds counted, no must-change,
        enabled as seeded. Only users written to since the last restore (their uSNChanged
        moved) or with failed binds counted are touched: a reset costs Samba its key
        derivations."""
        admin = self.admin()
        changed = self._changed_users()
        for name in changed:
            user = next(user for user in SEED_USERS if user.name == name)
            control = NORMAL_ACCOUNT | (0 if user.enabled else ACCOUNTDISABLE)
            self._check(
                admin.modify(
                    self.dn(name),
                    {
                        "unicodePwd": [(ldap3.MODIFY_REPLACE, [ad_password(self.passwords[name])])],
                        "lockoutTime": [(ldap3.MODIFY_REPLACE, ["0"])],  # badPwdCount too
                        "pwdLastSet": [(ldap3.MODIFY_REPLACE, ["-1"])],  # now: no must-change
                        "userAccountControl": [(ldap3.MODIFY_REPLACE, [str(control)])],
                    },
                ),
                f"restoring {name}",
            )
        if changed:
            self._changed_users(remember=True)

    def _changed_users(self, *, remember: bool = False) -> list[str]:
        """The seeded users whose uSNChanged differs from the remembered one, or with a
        bad-password count; `remember=True` remembers the current uSNChanged values."""
        admin = self.admin()
        names = "".join(f"(sAMAccountName={user.name})" for user in SEED_USERS)
        self._check(
            admin.search(
                USERS_DN,
                f"(&(objectClass=user)(|{names}))",
                ldap3.LEVEL,
                attributes=["sAMAccountName", "uSNChanged", "badPwdCount"],
            ),
            "reading the seeded users",
        )
        changed = []
        for entry in admin.response:
            if entry.get("type") != "searchResEntry":
                continue
            raw = entry["raw_attributes"]
            name = raw["sAMAccountName"][0].decode()
            usn = int(raw["uSNChanged"][0])
            bad = int((raw.get("badPwdCount") or [b"0"])[0])
            if remember:
                self._usn[name] = usn
            elif self._usn.get(name) != usn or bad:
                changed.append(name)
        return changed

    # Checks for the tests.

    def bind_error(self, name: str, password: str, *, tls: bool = True) -> str | None:
        """None if `name` (a seeded user, or a DN) binds with `password`; else AD's data
        code for why not (`52e` wrong password, `533` disabled, `773` must change, `775`
        locked out: see BIND_ERRORS)."""
        dn = name if "=" in name else self.dn(name)
        connection = self.connect(dn, password, tls=tls)
        try:
            if connection.bind():
                return None
            return _bind_error(connection)
        finally:
            _close(connection)

    def can_bind(self, name: str, password: str) -> bool:
        """Whether `name` binds over LDAPS with `password`."""
        return self.bind_error(name, password) is None

    def attribute(self, name: str, attribute: str) -> Any:
        """One attribute of a seeded user or group (or a DN), as the server sends it
        (raw: `pwdLastSet` and `lockoutTime` are ints as text, e.g. "0"); None if unset."""
        dn = name if "=" in name else self.dn(name)
        admin = self.admin()
        self._check(
            admin.search(dn, "(objectClass=*)", ldap3.BASE, attributes=[attribute]),
            f"reading {attribute} of {dn}",
        )
        values = admin.response[0]["raw_attributes"].get(attribute) or []
        if not values:
            return None
        value = values[0]
        try:
            return value.decode() if isinstance(value, bytes) else value
        except UnicodeDecodeError:
            return value  # binary, like objectGUID

    def integer(self, name: str, attribute: str) -> int | None:
        """An integer attribute (`pwdLastSet`, `lockoutTime`, `userAccountControl`...)."""
        value = self.attribute(name, attribute)
        return None if value is None else int(value)

    def lock_out(self, name: str) -> None:
        """Lock the account out the way a guesser would: wrong passwords until AD refuses
        even the right one (`775`), at most twice the threshold."""
        for attempt in range(2 * LOCKOUT_THRESHOLD):
            error = self.bind_error(name, f"Wrong-{attempt}-{secrets.token_hex(4)}")
            if error == "775":
                break
        assert self.integer(name, "lockoutTime"), f"{name} is not locked out"

    def change_own_password(self, name: str, old: str, new: str) -> dict[str, Any]:
        """The user changing their own password (bound as themselves: delete the old
        `unicodePwd`, add the new one, so AD checks history and minimum age); returns
        ldap3's result of the modify."""
        connection = self.connect(self.dn(name), old)
        try:
            if not connection.bind():
                pytest.fail(f"{name} cannot bind to change their password: {connection.result}")
            connection.modify(
                self.dn(name),
                {
                    "unicodePwd": [
                        (ldap3.MODIFY_DELETE, [ad_password(old)]),
                        (ldap3.MODIFY_ADD, [ad_password(new)]),
                    ]
                },
            )
            result: dict[str, Any] = connection.result
            return result
        finally:
            _close(connection)

    def set_password(self, name: str, password: str) -> None:
        """An admin reset of a seeded user's password, outside the adapter."""
        self._check(
            self.admin().modify(
                self.dn(name), {"unicodePwd": [(ldap3.MODIFY_REPLACE, [ad_password(password)])]}
            ),
            f"setting the password of {name}",
        )


@pytest.fixture(scope="session")
def samba_ad(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDC]:
    """One Samba AD domain controller for the whole session, provisioned and seeded."""
    dc = SambaDC(tmp_path_factory.mktemp("samba-ad"))
    dc.provision()
    dc.start()
    try:
        dc.seed()
        yield dc
    finally:
        dc.stop()


@pytest.fixture
def ad(samba_ad: SambaDC) -> SambaDC:
    """The session's domain, every seeded user back as seeded, for this test."""
    samba_ad.start()
    samba_ad.restore()
    return samba_ad
