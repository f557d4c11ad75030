"""The installed `sspr-bot` command, run as a subprocess the way an admin runs it.

Each test runs in its own temporary working directory, so the default data folder
(`sspr-data`) and every file the command writes stay inside it, and with an environment
free of Bot Framework credentials and `SSPR_*` keys unless the test sets them.
"""

import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from dialogs.machine import STATES
from tests.support.commands import sspr_bot, start_chat
from tests.support.harness import PASSWORDS, Outbox
from tests.support.paths import EXAMPLE_CONFIG
from tests.support.ports import free_port
from tests.support.processes import serving

# --- config check -----------------------------------------------------------------------

BROKEN = """\
acess:
  mode: all
verification:
  required: 3
codes:
  length: 2
limits:
  lockout: soon
"""


def test_config_check_lists_every_error_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text(BROKEN)
    result = sspr_bot(tmp_path, "config", "check", "sspr.yaml")
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert "verification.required: must be 1 or 2" in lines
    assert "acess: unknown setting (did you mean 'access'?)" in lines
    assert any(re.fullmatch(r"codes\.length: .*6.*", line) for line in lines), lines
    assert any(re.fullmatch(r"limits\.lockout: must be a duration .*", line) for line in lines)
    assert len(lines) == 4, lines


def test_config_check_reports_each_message_override_on_its_own_line(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text(
        "messages:\n"
        "  de:\n"
        "    nonexistent: Hallo\n"
        "    cancelled: Abgebrochen, {nobody}.\n"
        "verification:\n"
        "  required: 0\n"
    )
    result = sspr_bot(tmp_path, "config", "check", "sspr.yaml")
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert "messages.de.nonexistent: no such message" in lines, lines
    assert "messages.de.cancelled: unknown placeholder nobody" in lines, lines
    assert "verification.required: must be 1 or 2" in lines
    assert len(lines) == 3, lines


def test_config_check_reports_where_the_yaml_is_broken(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text("verification:\n  required: 2\ncodes: [6\nlength: 8\n")
    result = sspr_bot(tmp_path, "config", "check", "sspr.yaml")
    assert result.returncode != 0
    [line] = result.stderr.splitlines()
    assert line.startswith("sspr.yaml: ")
    assert line.endswith("at line 4, column 7"), line


def test_config_check_accepts_the_example_file(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "config", "check", str(EXAMPLE_CONFIG))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{EXAMPLE_CONFIG}: OK"


def test_config_check_accepts_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    result = sspr_bot(tmp_path, "config", "check", "empty.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "empty.yaml: OK"


def test_config_check_of_a_missing_file_says_so(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "config", "check", "nowhere.yaml")
    assert result.returncode != 0
    assert result.stderr.strip().startswith("nowhere.yaml: cannot read")


# --- config schema and graph ------------------------------------------------------------


def test_config_schema_is_a_json_schema_with_descriptions(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "config", "schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert "verification" in schema["properties"]
    verification = _resolve(schema, schema["properties"]["verification"])
    assert verification["properties"]["required"]["description"]
    undescribed = [
        f"{where}.{name}"
        for where, properties in _property_sets(schema)
        for name, definition in properties.items()
        if "$ref" not in definition and not definition.get("description")
    ]
    assert undescribed == []


def _resolve(schema: dict[str, Any], definition: dict[str, Any]) -> dict[str, Any]:
    reference = definition.get("$ref") or definition.get("allOf", [{}])[0].get("$ref")
    assert reference, definition
    resolved: dict[str, Any] = schema["$defs"][reference.removeprefix("#/$defs/")]
    return resolved


def _property_sets(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    sets = [("(top level)", schema["properties"])]
    sets += [(name, d["properties"]) for name, d in schema["$defs"].items() if "properties" in d]
    return sets


def test_config_graph_draws_every_state(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "config", "graph", "--output", "machine.mmd")
    assert result.returncode == 0, result.stderr
    assert "wrote machine.mmd" in result.stdout
    diagram = (tmp_path / "machine.mmd").read_text()
    assert "stateDiagram-v2" in diagram
    declared = set(re.findall(r'^\s*state "(\w+)" as \w+$', diagram, flags=re.MULTILINE))
    assert declared == set(STATES)


# --- chat and directory -----------------------------------------------------------------


async def test_chat_resets_alice_and_the_directory_agrees(tmp_path: Path) -> None:
    config = tmp_path / "temporary.yaml"
    config.write_text("password:\n  entry: temporary\n")
    chat = await start_chat(tmp_path, "--user", "alice", "--config", str(config))
    try:
        assert "Hi Alice Wilber" in await chat.say("reset")
        assert "I've emailed a 6-digit code" in await chat.say("email")
        code = Outbox(tmp_path / "sspr-data" / "outbox.jsonl").last_code()
        done = await chat.say(code)
    finally:
        returncode, _ = await chat.end()
    assert returncode == 0
    assert "I've set a temporary password" in done
    temporary = done.split("\n\n")[1]
    assert re.fullmatch(r"\S{16}", temporary), done

    new = sspr_bot(tmp_path, "directory", "check-password", "alice", stdin=f"{temporary}\n")
    assert new.returncode == 0, new.stderr
    old = sspr_bot(tmp_path, "directory", "check-password", "alice", stdin=PASSWORDS["alice"])
    assert old.returncode == 1, old.stderr


async def _anonymous_answer(cwd: Path, account: str) -> str:
    chat = await start_chat(cwd)
    try:
        asked = await chat.say("reset")
        assert "Which account is it?" in asked
        answer = await chat.say(account)
    finally:
        returncode, _ = await chat.end()
    assert returncode == 0
    return answer


async def test_chat_without_a_user_answers_an_unknown_account_like_a_real_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "unknown").mkdir()
    real = await _anonymous_answer(tmp_path / "real", "alice")
    unknown = await _anonymous_answer(tmp_path / "unknown", "nobody-by-this-name")
    assert real.startswith("bot> If that account")
    assert unknown == real


# --- serve ------------------------------------------------------------------------------


def test_serve_refuses_a_public_address_without_an_app_id(tmp_path: Path) -> None:
    public = "0.0.0.0"  # noqa: S104 (the address being refused)
    result = sspr_bot(tmp_path, "serve", "--host", public, "--port", str(free_port()))
    assert result.returncode != 0
    assert "MicrosoftAppId" in result.stderr
    assert not (tmp_path / "sspr-data").exists()


def test_serve_in_production_refuses_codes_that_would_only_reach_a_file(tmp_path: Path) -> None:
    app = {"MicrosoftAppId": "0b1c2d3e-4f50-4617-8899-aabbccddeeff", "MicrosoftAppPassword": "x"}
    result = sspr_bot(tmp_path, "serve", "--port", str(free_port()), env=app)
    assert result.returncode == 2
    assert result.stderr.startswith("sspr-bot cannot start: delivery of email, sms, voice")
    assert "delivery.allow_outbox_in_production: true" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "sspr-data").exists()


async def test_serve_in_development_mode_answers_healthz_and_says_so(tmp_path: Path) -> None:
    port = free_port()
    async with (
        serving(tmp_path, port) as served,
        aiohttp.ClientSession() as session,
        session.get(f"{served.url}/healthz") as response,
    ):
        assert response.status == 200
        assert await response.json() == {"status": "ok"}
    log = served.log
    warnings = [entry for entry in log if entry["level"] == "WARNING"]
    development = [entry for entry in warnings if "DEVELOPMENT MODE" in entry["message"]]
    assert len(development) == 1, log
    assert development[0]["host"] == "127.0.0.1"
    assert development[0]["port"] == port
    assert any(entry.get("url") == f"http://127.0.0.1:{port}/api/messages" for entry in log)


def test_serve_stops_with_one_line_when_the_store_settings_cannot_work(tmp_path: Path) -> None:
    config = tmp_path / "sspr.yaml"
    config.write_text(
        "state:\n  backend: redis\n  url: redis://127.0.0.1:1/0\n  tls_ca_file: ca.pem\n"
    )
    (tmp_path / "sspr-data").mkdir()
    (tmp_path / "sspr-data" / "ca.pem").write_text("not a certificate")
    result = sspr_bot(tmp_path, "serve", "--config", str(config))
    assert result.returncode == 2
    assert "sspr-bot cannot start: state.tls_ca_file" in result.stderr
    assert "Traceback" not in result.stderr


def test_teams_manifest_writes_the_app_package(tmp_path: Path) -> None:
    app_id = "00000000-0000-0000-0000-00000000abcd"
    result = sspr_bot(
        tmp_path, "teams-manifest", "--output", "teams-app", env={"MicrosoftAppId": app_id}
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "teams-app" / "manifest.json").read_text())
    assert manifest["bots"][0]["botId"] == app_id
    assert manifest["bots"][0]["scopes"] == ["personal"]
    assert list((tmp_path / "teams-app").glob("*.zip"))


def test_teams_manifest_needs_the_app_id(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "teams-manifest")
    assert result.returncode == 2
    assert "MicrosoftAppId" in result.stderr


def test_slack_manifest_names_the_public_request_urls(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "slack-manifest", "--public-url", "https://sspr.contoso.com")
    assert result.returncode == 0, result.stderr
    settings = json.loads(result.stdout)["settings"]
    assert settings["event_subscriptions"]["request_url"] == (
        "https://sspr.contoso.com/api/slack/events"
    )
    assert settings["interactivity"]["request_url"] == (
        "https://sspr.contoso.com/api/slack/interactivity"
    )
    refused = sspr_bot(tmp_path, "slack-manifest", "--public-url", "http://sspr.contoso.com")
    assert refused.returncode == 2
