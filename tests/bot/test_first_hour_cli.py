"""What an admin meets in the first hour with `sspr-bot` and `make run`, run as they run it.

Links follow the address actually served; a start-up mistake (a busy or privileged port, an
address that is not this machine's, a data folder the bot cannot use) is one line naming the
setting to change, never a traceback; every option has help, `--help` loads none of the
heavy packages, `config graph` draws SVG with Graphviz or says why it cannot, and `make run`
starts with the web chat address.
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot import cli
from dialogs.machine import STATES
from tests.stand_ins.connector import ConnectorStandIn
from tests.support.commands import sspr_bot, start_chat
from tests.support.harness import Outbox
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import SSPR_BOT, WAIT, Served, cli_environment, serving_printed

APP = {"MicrosoftAppId": "0b1c2d3e-4f50-4617-8899-aabbccddeeff", "MicrosoftAppPassword": "x"}
PRODUCTION = "delivery:\n  allow_outbox_in_production: true\n"
LINK = re.compile(r"https?://[^\s\"'<>()\[\]\\]+/password/[A-Za-z0-9_-]+")
CANNOT_START = "sspr-bot cannot start: "
_ids = count(1)


def serve_command(*args: str) -> list[str]:
    return [str(SSPR_BOT), "serve", *args]


def activity(connector: ConnectorStandIn, text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"first-hour-{next(_ids)}",
        "channelId": "emulator",
        "serviceUrl": connector.url,
        "from": {"id": "alice"},
        "recipient": {"id": "sspr-bot"},
        "conversation": {"id": "first-hour"},
        "text": text,
        "locale": "en-US",
    }


async def password_link(
    session: aiohttp.ClientSession, served: Served, connector: ConnectorStandIn, outbox: Outbox
) -> str:
    """Alice resets over the Bot Framework endpoint; the password page link she is sent."""

    async def say(text: str) -> list[dict[str, Any]]:
        mark = len(connector.received)
        url = f"{served.url}/api/messages"
        async with session.post(url, json=activity(connector, text)) as response:
            assert response.status == 202
        return [entry.activity for entry in connector.received[mark:]]

    assert "Hi Alice Wilber" in json.dumps(await say("reset"))
    await say("email")
    replies = await say(outbox.last_code())
    links = LINK.findall(json.dumps(replies))
    assert links, replies
    return str(links[0])


# --- item 3: links follow the address served ------------------------------------------


@pytest.mark.parametrize("asked", ["a given port", "port 0"])
async def test_serve_makes_links_on_the_port_it_serves_and_prints_the_web_chat_first(
    tmp_path: Path, connector: ConnectorStandIn, asked: str
) -> None:
    port = free_port() if asked == "a given port" else 0
    command = serve_command("--port", str(port))
    async with (
        serving_printed(command, tmp_path, cli_environment()) as served,
        aiohttp.ClientSession() as session,
    ):
        bound = int(served.url.rsplit(":", 1)[1])
        assert bound == port or (port == 0 and bound > 0)
        outbox = Outbox(tmp_path / "sspr-data" / "outbox.jsonl")
        link = await password_link(session, served, connector, outbox)
        assert link.startswith(f"http://127.0.0.1:{bound}/password/"), link
        async with session.get(link) as page:
            assert page.status == 200
            assert page.content_type == "text/html"
    assert served.printed[0] == f"Web chat: http://127.0.0.1:{bound}/"


async def test_chat_makes_links_on_the_configured_host_and_port(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "sspr.yaml"
    config.write_text(yaml.safe_dump({"server": {"host": "localhost", "port": port}}))
    chat = await start_chat(tmp_path, "--user", "alice", "--config", str(config))
    try:
        assert "Hi Alice Wilber" in await chat.say("reset")
        await chat.say("email")
        sent = await chat.say(Outbox(tmp_path / "sspr-data" / "outbox.jsonl").last_code())
    finally:
        returncode, _ = await chat.end()
    assert returncode == 0
    links = LINK.findall(sent)
    assert links, sent
    assert links[0].startswith(f"http://localhost:{port}/password/"), sent


@pytest.mark.parametrize("public", ["elsewhere", "here"])
async def test_serve_says_so_when_the_public_url_is_not_the_loopback_address_served(
    tmp_path: Path, public: str
) -> None:
    port = free_port()
    public_url = "http://127.0.0.1:3978" if public == "elsewhere" else f"http://127.0.0.1:{port}"
    config = tmp_path / "sspr.yaml"
    config.write_text(yaml.safe_dump({"server": {"public_url": public_url}}))
    command = serve_command("--port", str(port), "--config", str(config))
    async with serving_printed(command, tmp_path, cli_environment()) as served:
        notices = [entry for entry in served.log if entry.get("public_url") == public_url]
    if public == "here":
        assert notices == [], served.log
        return
    [notice] = notices
    assert notice["level"] == "WARNING"
    assert notice["message"].startswith(
        f"server.public_url is {public_url}, not the address served (http://127.0.0.1:{port})"
    )
    assert notice["port"] == port


def test_serve_beyond_loopback_needs_the_public_url(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text(PRODUCTION)
    everywhere = "0.0.0.0"  # noqa: S104 (the address being refused)
    result = sspr_bot(
        tmp_path, "serve", "--config", "sspr.yaml", "--host", everywhere, "--port", "0", env=APP
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"{CANNOT_START}server.public_url: set it to the https")
    assert not (tmp_path / "sspr-data").exists()


def test_a_public_url_that_is_set_is_still_checked(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text("server:\n  public_url: ftp://sspr.contoso.com\n")
    result = sspr_bot(tmp_path, "config", "check", "sspr.yaml")
    assert result.returncode == 2
    assert result.stderr.startswith("server.public_url: ")


# --- item 4: start-up mistakes are one line ---------------------------------------------


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def test_a_busy_port_says_which_and_how_to_choose_another(tmp_path: Path, busy_port: int) -> None:
    result = sspr_bot(tmp_path, "serve", "--port", str(busy_port))
    assert result.returncode == 2
    assert result.stderr == (
        f"{CANNOT_START}port {busy_port} on 127.0.0.1 is in use; choose another with --port "
        f"or server.port\n"
    )
    assert result.stdout == ""
    assert not (tmp_path / "sspr-data").exists()


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("192.0.2.1", "192.0.2.1 is not an address of this machine; choose another with --host"),
        ("no-such-host.invalid", "'no-such-host.invalid' is not a name or address of this machine"),
    ],
)
def test_an_address_that_is_not_this_machines_says_so(
    tmp_path: Path, host: str, problem: str
) -> None:
    (tmp_path / "sspr.yaml").write_text(f"{PRODUCTION}server:\n  public_url: https://sspr.test\n")
    result = sspr_bot(
        tmp_path, "serve", "--config", "sspr.yaml", "--host", host, "--port", "0", env=APP
    )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{CANNOT_START}{problem}"), line


def unprivileged(*capabilities: str) -> list[str]:
    """A command prefix that runs without the privileges named (all of root's otherwise)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv is missing: apt-get install util-linux"
    dropped = ",".join(f"-{capability}" for capability in capabilities)
    return [setpriv, "--bounding-set", dropped, "--inh-caps", dropped]


def test_a_privileged_port_says_so(tmp_path: Path) -> None:
    first_open = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    assert first_open > 0, "this machine reserves no ports (net.ipv4.ip_unprivileged_port_start)"
    port = first_open - 1
    result = sspr_bot(
        tmp_path, "serve", "--port", str(port), prefix=unprivileged("net_bind_service")
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"{CANNOT_START}port {port} on 127.0.0.1 is not open to this account (ports below 1024 "
        f"need privileges); choose another with --port or server.port\n"
    )


@pytest.mark.parametrize("data_dir", ["a file", "unreadable"])
def test_a_data_folder_the_bot_cannot_use_is_one_line(tmp_path: Path, data_dir: str) -> None:
    folder = tmp_path / "data"
    if data_dir == "a file":
        folder.write_text("")
        reason = "File exists"
    else:
        folder.mkdir(mode=0)
        reason = "Permission denied"
    config = tmp_path / "sspr.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(folder), "state": {"backend": "memory"}}))
    prefix = unprivileged("dac_override", "dac_read_search")
    result = sspr_bot(tmp_path, "serve", "--config", str(config), "--port", "0", prefix=prefix)
    folder.chmod(0o700)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(CANNOT_START), result.stderr
    assert f"{reason} (data_dir is {folder})" in last, last


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "serve", "--config", "nowhere.yaml", "--port", "0")
    assert result.returncode == 2
    assert result.stderr == "nowhere.yaml: cannot read (No such file or directory)\n"


def test_a_port_out_of_range_is_refused_by_the_command_line(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "serve", "--port", "70000")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].endswith(
        "argument --port: 70000 is not a port: 1 to 65535, or 0 for any"
    )


# --- item 14: the command line ------------------------------------------------------------


def _parsers(
    parser: argparse.ArgumentParser, path: str = "sspr-bot"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield from _parsers(command, f"{path} {name}")


def test_every_argument_and_command_has_help() -> None:
    undescribed = []
    for path, parser in _parsers(cli.build_parser()):
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue  # a former spelling, accepted but not shown
            if not action.help:
                undescribed.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
            if isinstance(action, argparse._SubParsersAction):
                undescribed += [
                    f"{path} {choice.dest}" for choice in action._choices_actions if not choice.help
                ]
    assert undescribed == []


HEAVY = {"microsoft_agents", "aiohttp", "ldap3", "msal", "redis", "twilio", "azure", "slack_sdk"}
HEAVY |= {"pydantic", "transitions", "yaml", "cryptography", "argon2"}
HELP_PROBE = """
import json, sys
from bot import cli
for argv in json.loads(sys.argv[1]):
    try:
        cli.main(argv)
    except SystemExit:
        pass
with open(sys.argv[2], "w") as loaded:
    json.dump(sorted(sys.modules), loaded)
"""


def test_help_and_usage_errors_load_no_heavy_package(tmp_path: Path) -> None:
    asked = [
        ["--help"],
        *([command, "--help"] for command in ("serve", "chat", "config", "slack-manifest")),
        ["teams-manifest", "--help"],
        ["config", "graph", "--help"],
        ["directory", "check-password", "--help"],
        ["serve", "--prot", "1"],
    ]
    loaded = tmp_path / "modules.json"
    probe = [sys.executable, "-c", HELP_PROBE, json.dumps(asked), str(loaded)]
    subprocess.run(probe, capture_output=True, timeout=WAIT, check=True, cwd=ROOT)
    packages = {name.partition(".")[0] for name in json.loads(loaded.read_text())}
    assert packages & HEAVY == set()


def test_teams_manifest_takes_output_like_every_other_command(tmp_path: Path) -> None:
    env = {"MicrosoftAppId": "00000000-0000-0000-0000-00000000abcd"}
    result = sspr_bot(tmp_path, "teams-manifest", "--output", "app", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "app" / "manifest.json").exists()
    former = sspr_bot(tmp_path, "teams-manifest", "--out", "old", env=env)
    assert former.returncode == 0, former.stderr
    assert (tmp_path / "old" / "manifest.json").exists()
    assert former.stderr == "sspr-bot: --out is now --output\n"


def test_slack_manifest_takes_the_configured_public_url(tmp_path: Path) -> None:
    (tmp_path / "sspr.yaml").write_text("server:\n  public_url: https://sspr.contoso.com\n")
    result = sspr_bot(tmp_path, "slack-manifest", "--config", "sspr.yaml")
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)["settings"]["event_subscriptions"]
    assert events["request_url"] == "https://sspr.contoso.com/api/slack/events"
    unknown = sspr_bot(tmp_path, "slack-manifest")
    assert unknown.returncode == 2
    assert "--public-url" in unknown.stderr
    assert "server.public_url" in unknown.stderr


def test_config_graph_draws_svg_with_graphviz(tmp_path: Path) -> None:
    assert shutil.which("dot"), "Graphviz's dot is missing: apt-get install graphviz"
    result = sspr_bot(tmp_path, "config", "graph", "--output", "machine.svg")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote machine.svg\n"
    svg = ET.parse(tmp_path / "machine.svg").getroot()  # noqa: S314 (our own dot wrote it)
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    drawn = {text.text for text in svg.iter("{http://www.w3.org/2000/svg}text")}
    assert set(STATES) <= drawn


def test_config_graph_refuses_svg_without_graphviz_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    result = sspr_bot(
        tmp_path, "config", "graph", "--output", "machine.svg", env={"PATH": str(tmp_path / "bin")}
    )
    assert result.returncode == 2
    assert result.stderr == (
        "sspr-bot: config graph --output machine.svg: drawing SVG needs Graphviz's dot (apt "
        "install graphviz); a .mmd or .dot file needs nothing\n"
    )
    assert not (tmp_path / "machine.svg").exists()


def test_config_graph_writes_dot_source_and_names_the_endings_it_knows(tmp_path: Path) -> None:
    result = sspr_bot(tmp_path, "config", "graph", "--output", "machine.dot")
    assert result.returncode == 0, result.stderr
    source = (tmp_path / "machine.dot").read_text()
    assert source.startswith("digraph conversation {")
    assert set(re.findall(r'^  "(\w+)" \[label=', source, flags=re.MULTILINE)) == set(STATES)
    unknown = sspr_bot(tmp_path, "config", "graph", "--output", "machine.txt")
    assert unknown.returncode == 2
    assert unknown.stderr.endswith("must end with .mmd, .dot, .gv, .svg, .png\n")


def make_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The CLI's environment, without the variables of a `make` this suite may run under
    (they would make `make run` print its directory or take the parent's flags)."""
    inherited = cli_environment(extra)
    return {name: value for name, value in inherited.items() if not name.startswith("MAKE")}


async def test_make_run_prints_the_web_chat_first_and_takes_port_and_config(
    tmp_path: Path,
) -> None:
    assert shutil.which("make"), "make is missing: apt-get install make"
    port = free_port()
    config = tmp_path / "sspr.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data")}))
    # -o: never reinstall the package from here, even when pyproject.toml is newer.
    command = ["make", "--no-print-directory", "-o", ".venv/.installed", "run"]
    command += [f"PORT={port}", f"CONFIG={config}"]
    async with (
        serving_printed(command, ROOT, make_environment()) as served,
        aiohttp.ClientSession() as session,
        session.get(f"{served.url}/") as page,
    ):
        assert page.status == 200
        assert page.content_type == "text/html"
    assert served.printed[0] == f"Web chat: http://127.0.0.1:{port}/"
    assert served.url == f"http://127.0.0.1:{port}"
    assert (tmp_path / "data").is_dir()


def test_a_ticket_system_without_its_credentials_is_one_line(tmp_path: Path) -> None:
    tickets = {"kind": "servicenow", "instance_url": "https://contoso.service-now.com"}
    (tmp_path / "sspr.yaml").write_text(yaml.safe_dump({"tickets": tickets}))
    result = sspr_bot(tmp_path, "serve", "--config", "sspr.yaml", "--port", "0")
    assert result.returncode == 2
    [line] = result.stderr.splitlines()[-1:]
    assert line.startswith(CANNOT_START), result.stderr
    assert "SSPR_SERVICENOW_TOKEN" in line
    assert "Traceback" not in result.stderr
