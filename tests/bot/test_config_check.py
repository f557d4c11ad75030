"""`sspr-bot config check` refuses a policy nobody can meet, says where each problem is
(cross-field ones included, all at once), suggests the key meant, and warns of methods
the configured directory cannot serve."""

import json
import subprocess
from pathlib import Path

import pytest

from bot.config_file import config_warnings, load_settings
from tests.support.processes import SSPR_BOT, WAIT, cli_environment

GRAPH = """\
directory:
  kind: graph
  graph:
    tenant_id: 00000000-0000-0000-0000-000000000000
    client_id: 11111111-1111-1111-1111-111111111111
"""


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "sspr.yaml").write_text(text)
    return subprocess.run(
        [str(SSPR_BOT), "config", "check", "sspr.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=cli_environment(),
        timeout=WAIT,
        check=False,
    )


def test_a_policy_nobody_can_meet_is_refused_at_its_key(tmp_path: Path) -> None:
    result = check(tmp_path, "verification:\n  methods: [sms]\n  required: 2\n")
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line == (
        "verification.required: no one can pass 2 different checks: checks by sms prove "
        "only the mobile phone (a text and a call to the same phone count once); enable "
        "another method or set 1"
    )


@pytest.mark.parametrize(
    ("methods", "usable"),
    [
        (["email"], False),
        (["sms", "questions"], True),  # a text first, then the questions
        (["voice"], True),  # a call to the mobile, then one to a different office phone
        (["sms", "voice"], True),
        (["authenticator", "email"], True),
    ],
)
def test_two_checks_need_two_things_to_prove(
    tmp_path: Path, methods: list[str], usable: bool
) -> None:
    result = check(tmp_path, f"verification:\n  methods: {json.dumps(methods)}\n  required: 2\n")
    assert (result.returncode == 0) is usable, result.stderr


def test_cross_field_errors_are_reported_at_their_key_with_the_others(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        "acess:\n  mode: all\n"
        "codes:\n  lifetime: 10m\n"
        "session:\n  timeout: 5m\n"
        "limits:\n  typed_phone_budget: {count: 300, window: 1h}\n"
        "password:\n  min_length: 100\n  max_length: 64\n",
    )
    assert result.returncode == 2
    assert sorted(result.stderr.splitlines()) == [
        "acess: unknown setting (did you mean 'access'?)",
        "codes.lifetime: must not exceed session.timeout (5m)",
        "limits.typed_phone_budget.count: must be below phone_budget.count (200)",
        "password.min_length: must not exceed max_length (64)",
    ]


def test_an_unknown_key_gets_the_key_meant(tmp_path: Path) -> None:
    result = check(
        tmp_path,
        "verification:\n  requird: 2\n"
        "delivery:\n  sms:\n    kind: twilio\n    acount_sid: AC1\n    from_number: '+1'\n",
    )
    lines = result.stderr.splitlines()
    assert "verification.requird: unknown setting (did you mean 'required'?)" in lines
    assert "delivery.sms.twilio.acount_sid: unknown setting (did you mean 'account_sid'?)" in lines


def test_a_policy_the_directory_cannot_serve_is_refused(tmp_path: Path) -> None:
    result = check(
        tmp_path, GRAPH + "verification:\n  methods: [authenticator, sms]\n  required: 2\n"
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(
        "verification.required: with directory kind graph, no one can pass 2 different checks"
    )
    only_the_app = check(tmp_path, GRAPH + "verification:\n  methods: [authenticator]\n")
    assert only_the_app.stderr.splitlines() == [
        "verification.methods: none of them can work with directory kind graph; "
        "add email, sms or voice"
    ]


def test_methods_the_directory_cannot_serve_are_warned_of(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text(GRAPH)
    warnings = config_warnings(load_settings(tmp_path / "sspr.yaml"))
    assert [line.split(" (")[0] for line in warnings] == [
        "verification.methods: authenticator cannot work with directory kind graph",
        "verification.methods: questions cannot work with directory kind graph",
    ]
    assert "secrets of authenticator apps" in warnings[0]
    result = check(tmp_path, GRAPH)
    assert result.returncode == 0
    assert result.stdout.strip().endswith(": OK")
    assert result.stderr.splitlines() == [f"warning: {warning}" for warning in warnings]


def test_a_policy_no_administrator_can_meet_is_warned_of(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text("verification:\n  methods: [email, questions]\n")
    assert config_warnings(load_settings(tmp_path / "sspr.yaml")) == [
        "verification.admin_two_gate: administrators need 2 different checks besides "
        "security questions, but checks by email prove only the mailbox: every "
        "administrator is sent to the helpdesk"
    ]
    assert config_warnings(load_settings(None)) == []


def test_the_schema_gives_required_its_bounds(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(SSPR_BOT), "config", "schema"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=cli_environment(),
        timeout=WAIT,
        check=True,
    )
    schema = json.loads(result.stdout)
    required = schema["$defs"]["VerificationSettings"]["properties"]["required"]
    assert (required["minimum"], required["maximum"]) == (1, 2)
