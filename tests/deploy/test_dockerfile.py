"""The container image: slim, non-root, the `fast` extra installed, `sspr-bot serve` as
its command with the config from a mounted path, everything it writes in one volume (so a
read-only root file system works), a health check on /healthz, and no secret in it.

hadolint checks the Dockerfile against its rules; the structural checks below are this
project's own rules, on the Dockerfile as the builder reads it. No image is built here."""

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.dockerfile import Stage, parse
from tests.deploy.variables import variables_the_bot_reads
from tests.support.paths import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
HADOLINT = Path(sys.executable).parent / "hadolint"
DATA = "/var/lib/sspr-bot"
ALL_ADDRESSES = "0.0.0.0"  # noqa: S104 - the address the container's command serves on
CONFIG_FILE = "/etc/sspr-bot/sspr.yaml"


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE)[1]


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def test_hadolint_finds_nothing() -> None:
    linted = subprocess.run(
        [str(HADOLINT), "--format", "json", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert json.loads(linted.stdout) == [], linted.stdout
    assert linted.returncode == 0


def test_every_stage_is_a_slim_python_image(stages: list[Stage]) -> None:
    arguments = parse(DOCKERFILE)[0]
    for stage in stages:
        assert stage.base == "${PYTHON_IMAGE}"
    image = arguments["PYTHON_IMAGE"]
    repository, _, tag = image.partition(":")
    assert repository == "python"
    assert "slim" in tag.split("-")
    assert tag.split("-")[0].count(".") == 1, "pinned to a Python minor version"


def test_the_build_stage_installs_the_fast_extra_into_the_virtualenv_the_final_stage_copies(
    stages: list[Stage], final: Stage
) -> None:
    build = stages[0]
    installs = [each.arguments for each in build.all("RUN") if "pip install" in each.arguments]
    assert installs == ['/opt/sspr-bot/bin/pip install --no-cache-dir ".[fast]"']
    copied = [each.words() for each in final.all("COPY")]
    assert copied == [[f"--from={build.name}", "/opt/sspr-bot", "/opt/sspr-bot"]]
    assert final.environment()["PATH"].startswith("/opt/sspr-bot/bin:")


def test_the_build_stage_copies_every_package_and_file_the_install_needs(
    stages: list[Stage],
) -> None:
    """What pyproject.toml builds from: the readme and every package it finds."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        name.rstrip("*") for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    needed = {"pyproject.toml", project["project"]["readme"], *packages}
    copied = {source for each in stages[0].all("COPY") for source in each.words()[:-1]}
    assert copied == needed


def test_the_build_context_holds_only_what_the_build_stage_copies(stages: list[Stage]) -> None:
    """Deny everything, then let in exactly the copied sources: no local config, data folder,
    key or environment file can reach the builder."""
    rules = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*"
    admitted = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    copied = {source for each in stages[0].all("COPY") for source in each.words()[:-1]}
    assert admitted == copied
    later = [rule for rule in rules[1:] if not rule.startswith("!")]
    assert later == ["**/__pycache__", "**/*.py[co]"]


def test_the_bot_runs_as_a_numeric_non_root_user(final: Stage) -> None:
    user, _, group = final.last("USER").arguments.partition(":")
    assert user.isdigit()
    assert int(user) != 0
    assert group.isdigit()
    assert int(group) != 0
    created = " ".join(each.arguments for each in final.all("RUN"))
    assert f"--uid {user}" in created
    assert f"--gid {group}" in created


def test_the_command_serves_on_all_addresses_with_the_mounted_config(final: Stage) -> None:
    command = final.last("ENTRYPOINT").exec_form() + final.last("CMD").exec_form()
    assert command[:2] == ["sspr-bot", "serve"]
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert options == {"--config": CONFIG_FILE, "--host": ALL_ADDRESSES, "--port": "3978"}
    assert final.last("EXPOSE").arguments == options["--port"]


def test_everything_the_bot_writes_is_in_the_one_volume(final: Stage) -> None:
    """The working directory (a relative data_dir is taken from it), HOME and TMPDIR are
    the volume, and Python writes no bytecode: nothing else needs to be writable."""
    assert final.last("VOLUME").exec_form() == [DATA]
    assert final.last("WORKDIR").arguments == DATA
    environment = final.environment()
    assert environment["HOME"] == DATA
    assert environment["TMPDIR"] == DATA
    assert environment["PYTHONDONTWRITEBYTECODE"] == "1"
    created = " ".join(each.arguments for each in final.all("RUN"))
    assert f"-o sspr-bot -g sspr-bot -m 0700 {DATA}" in created


def test_the_health_check_asks_healthz_on_the_served_port(final: Stage) -> None:
    check = final.last("HEALTHCHECK").arguments
    options, _, command = check.partition("CMD ")
    assert "--interval=" in options
    assert "--timeout=" in options
    program = json.loads(command)
    assert program[:2] == ["python", "-c"]
    assert "http://127.0.0.1:3978/healthz" in program[2]


def test_the_stop_signal_is_the_orderly_shutdown(final: Stage) -> None:
    assert final.last("STOPSIGNAL").arguments == "SIGINT"


def test_no_url_is_added_and_no_secret_is_baked_in(stages: list[Stage]) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    for stage in stages:
        assert stage.all("ADD") == []
        assert stage.all("ARG") == []
        named = set(stage.environment())
        assert named.isdisjoint(variables_the_bot_reads())
    for variable in variables_the_bot_reads():
        assert variable not in text
