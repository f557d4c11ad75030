"""The systemd unit: a dedicated user, the secrets from an EnvironmentFile, writable only
in its data folder, hardened, restarted on failure, reloaded with SIGHUP. systemd's own
tools read it as systemd would: `systemd-analyze verify` and `security`, and
`systemd-sysusers` for the account."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.variables import variables_the_bot_reads
from tests.support.paths import ROOT

SYSTEMD = ROOT / "deploy" / "systemd"
UNIT = SYSTEMD / "sspr-bot.service"
SYSUSERS = SYSTEMD / "sspr-bot.sysusers"
ENV_EXAMPLE = SYSTEMD / "sspr-bot.env.example"
INSTALLED = "/opt/sspr-bot/bin/sspr-bot"
DATA = "/var/lib/sspr-bot"
SSPR_BOT = Path(shutil.which("sspr-bot") or ROOT / ".venv" / "bin" / "sspr-bot")
# systemd-analyze's exposure score, 0 (most restricted) to 100; 20 is its "OK" band.
MOST_EXPOSURE = 20

Unit = dict[str, list[tuple[str, str]]]


def read_unit(path: Path) -> Unit:
    """Sections and their settings in order; a key may repeat, as systemd allows."""
    unit: Unit = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if header := re.fullmatch(r"\[(\w+)\]", line):
            section = header.group(1)
            unit[section] = []
            continue
        key, _, value = line.partition("=")
        unit[section].append((key, value))
    return unit


@pytest.fixture(scope="module")
def service() -> dict[str, str]:
    """The [Service] section, the last value of each key."""
    return dict(read_unit(UNIT)["Service"])


def test_it_runs_as_its_own_user_with_the_secrets_from_an_environment_file(
    service: dict[str, str],
) -> None:
    assert service["User"] == service["Group"] == "sspr-bot"
    assert service["EnvironmentFile"] == "/etc/sspr-bot/sspr-bot.env"
    assert "Environment" not in service


def test_it_serves_with_the_config_from_etc_in_its_data_folder(service: dict[str, str]) -> None:
    assert service["ExecStart"] == (
        f"{INSTALLED} serve --config /etc/sspr-bot/sspr.yaml --host 0.0.0.0 --port 3978"
    )
    assert service["WorkingDirectory"] == DATA
    assert service["StateDirectory"] == "sspr-bot"
    assert service["StateDirectoryMode"] == "0700"


def test_it_writes_only_to_its_data_folder(service: dict[str, str]) -> None:
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == DATA
    assert service["PrivateTmp"] == "yes"
    assert service["ProtectHome"] == "yes"
    assert service["UMask"] == "0077"


@pytest.mark.parametrize(
    "key",
    [
        "NoNewPrivileges",
        "PrivateDevices",
        "ProtectKernelTunables",
        "ProtectKernelModules",
        "ProtectKernelLogs",
        "ProtectControlGroups",
        "ProtectClock",
        "ProtectHostname",
        "RestrictNamespaces",
        "RestrictRealtime",
        "RestrictSUIDSGID",
        "LockPersonality",
    ],
)
def test_the_hardening_switch_is_on(service: dict[str, str], key: str) -> None:
    assert service[key] == "yes"


def test_it_holds_no_capability_and_only_internet_and_local_sockets(
    service: dict[str, str],
) -> None:
    assert service["CapabilityBoundingSet"] == ""
    assert service["AmbientCapabilities"] == ""
    assert service["RestrictAddressFamilies"].split() == ["AF_INET", "AF_INET6", "AF_UNIX"]


def test_the_system_call_filter_leaves_the_hashing_threads_their_priority_calls() -> None:
    """The password hashing threads call setpriority and sched_setaffinity (@resources):
    a filter that denied them would break every reset."""
    filters = [value for key, value in read_unit(UNIT)["Service"] if key == "SystemCallFilter"]
    assert filters == ["@system-service", "~@privileged"]


def test_it_restarts_on_failure_reloads_with_sighup_and_stops_in_order(
    service: dict[str, str],
) -> None:
    assert service["Restart"] == "on-failure"
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["KillSignal"] == "SIGINT"
    assert service["SuccessExitStatus"] == "130"


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    """`systemd-analyze verify` also checks that the programs exist: the copy verified
    runs this checkout's installed sspr-bot instead of the one under /opt."""
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED, str(SSPR_BOT)))
    verified = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""


def test_systemd_rates_the_unit_as_little_exposed() -> None:
    rated = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=yes",
            f"--threshold={MOST_EXPOSURE}",
            str(UNIT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert rated.returncode == 0, rated.stdout[-400:]
    assert re.search(r"Overall exposure level for sspr-bot\.service: 1\.\d OK", rated.stdout)


def test_systemd_sysusers_creates_the_account(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    for name in ("passwd", "group"):
        (tmp_path / "etc" / name).touch()
    created = subprocess.run(
        ["systemd-sysusers", "--dry-run", f"--root={tmp_path}", "-"],
        input=SYSUSERS.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    said = created.stdout + created.stderr
    assert "Creating user 'sspr-bot' (sspr-bot password reset bot)" in said
    assert (tmp_path / "etc" / "passwd").read_text() == ""


def test_the_environment_file_example_names_every_variable_and_sets_none() -> None:
    """Every variable the bot reads is there to uncomment; as shipped it sets nothing, since
    a variable set to nothing is used (an empty SSPR_SECRET_KEY stops the bot)."""
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    offered = {m.group(1) for line in lines if (m := re.fullmatch(r"#(\w+)=", line))}
    assert offered == variables_the_bot_reads()
    assert [line for line in lines if line and not line.startswith("#")] == []
