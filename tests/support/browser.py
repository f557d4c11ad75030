"""Real Chromium (Debian's `chromium`) driven by Playwright, for the pages the bot serves.

Playwright's own browser download is never used: the tests launch the system binary, so
`make test` needs only the Debian package. Screenshots go to `test-artifacts/`.
"""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, ViewportSize, async_playwright

from tests.support.paths import ROOT

CHROMIUM = "/usr/bin/chromium"
PHONE = ViewportSize(width=390, height=844)
ARTIFACTS = ROOT / "test-artifacts"
# Quiet, closed-network flags: no background services calling out, no first-run pages.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail("chromium not found: apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"
