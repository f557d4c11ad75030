"""The bot runs on a read-only root file system with only its data folder writable, as
in the container (`--read-only`, readOnlyRootFilesystem) and under systemd's
ProtectSystem=strict: the real `sspr-bot serve`, in a mount namespace of its own where
every file system but the data folder is remounted read-only, with the image's
environment (HOME and TMPDIR in the data folder, working directory there too)."""

import asyncio
import signal
from pathlib import Path

from aiohttp import ClientSession

from tests.deploy.dockerfile import parse
from tests.support.paths import ROOT
from tests.support.ports import free_port
from tests.support.processes import SSPR_BOT, WAIT, cli_environment, until_listening

# Bind the data folder onto itself (it keeps its own, writable, mount), remount every
# other file system read-only, refuse to go on if the root is still writable, then run
# the bot from the data folder's new mount (the old working directory is on the root's).
# /proc, /sys and /dev stay as they are, as in a container.
READ_ONLY_ROOT = """
set -e
data=$1; shift
mount --bind "$data" "$data"
mount -o remount,bind,ro /
findmnt -rno TARGET | while read -r target; do
  case "$target" in
    /|/proc*|/sys*|/dev*|"$data") ;;
    *) mount -o remount,bind,ro "$target" 2>/dev/null || true ;;
  esac
done
if touch /.sspr-bot-write-probe 2>/dev/null; then exit 97; fi
cd "$data"
exec "$@"
"""


def image_environment(data: Path) -> dict[str, str]:
    """The final stage's ENV, its data folder moved to `data`."""
    environment = parse(ROOT / "Dockerfile")[1][-1].environment()
    return {
        name: value.replace("/var/lib/sspr-bot", str(data))
        for name, value in environment.items()
        if name != "PATH"
    }


async def test_the_bot_serves_and_keeps_its_state_with_only_its_data_folder_writable(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    config = tmp_path / "etc" / "sspr.yaml"
    config.parent.mkdir()
    config.write_text("state:\n  backend: sqlite\n", encoding="utf-8")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        READ_ONLY_ROOT,
        "sh",
        str(data),
        str(SSPR_BOT),
        "serve",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        cwd=data,
        env=cli_environment(image_environment(data)),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    log: list[dict[str, object]] = []
    try:
        await asyncio.wait_for(until_listening(process, log), WAIT)
        async with ClientSession() as http:
            for path, expected in (("/healthz", "ok"), ("/readyz", "ready")):
                async with http.get(f"http://127.0.0.1:{port}{path}") as answer:
                    assert answer.status == 200, path
                    assert (await answer.json())["status"] == expected
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), WAIT)
    assert process.returncode == 130  # the orderly stop after SIGINT, as at Ctrl-C
    assert [entry for entry in log if entry["level"] in ("ERROR", "CRITICAL")] == []
    written = {path.name for path in (data / "sspr-data").iterdir()}
    assert {"state.sqlite3", "secret.key"} <= written
