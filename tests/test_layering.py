"""Imports flow one way (README.md, "Development"; DESIGN.md): bot -> dialogs -> (state,
adapters); the dialog core never sees a channel, and state and adapters never see the dialog
or each other. Inside `bot`, each channel keeps to its own room: the Bot Framework channel
serves Teams but knows nothing of it, and no channel reaches into another."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "dialogs": {"bot", "aiohttp", "microsoft_agents", "slack_sdk"},
    "state": {"bot", "dialogs", "adapters"},
    "adapters": {"bot", "dialogs", "state"},
}


CHANNELS = {"botframework", "teams", "slack", "webchat", "console"}
# What each channel may import of the other channels (and of the password page).
CHANNEL_ALLOWED = {
    "botframework": set(),
    "teams": {"botframework"},
    "slack": set(),
    "webchat": set(),
    "console": {"botframework", "password_page"},
    "password_page": {"webchat"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def imported_packages(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        wrong = imported_packages(path) & FORBIDDEN[package]
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


@pytest.mark.parametrize("room", sorted(CHANNEL_ALLOWED))
def test_each_channel_keeps_to_its_room(room: str) -> None:
    forbidden = (CHANNELS | {"password_page"}) - CHANNEL_ALLOWED[room] - {room}
    files = sorted((ROOT / "bot" / room).rglob("*.py"))
    assert files
    for path in files:
        rooms = {name.split(".")[1] for name in imported_modules(path) if name.startswith("bot.")}
        wrong = rooms & forbidden
        assert not wrong, f"{path.relative_to(ROOT)} imports bot.{sorted(wrong)}"
