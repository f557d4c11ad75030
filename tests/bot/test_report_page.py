"""`/admin/report` on the served bot: unknown without `SSPR_ADMIN_TOKEN`, refused without
the token or with a wrong one, and served with it: the scripted series' numbers on a page
whose SVG charts real Chromium draws under the bot's strict CSP, with no violation."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from aiohttp import ClientSession
from playwright.async_api import Browser, ConsoleMessage, expect

from bot.botframework.credentials import from_environment
from bot.password_page.page import SECURITY_HEADERS
from bot.report.admin import TOKEN_VARIABLE
from bot.runtime import http_application
from tests.bot.test_report import scripted_series
from tests.support.browser import screenshot_path
from tests.support.directory import demo_with
from tests.support.harness import Bot
from tests.support.serving import serving

TOKEN = "f3c1e0a9b7d24c6e8a5f0b1c2d3e4f5a"
MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]


@asynccontextmanager
async def served(make_bot: MakeBot, environ: dict[str, str]) -> AsyncIterator[str]:
    """The bot's HTTP app after the scripted series; yields its base URL."""
    async with make_bot(environ=environ) as bot:
        await scripted_series(bot)
        async with serving(http_application(bot.runtime, from_environment({}))) as url:
            yield url


async def status_of(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The status, the `WWW-Authenticate` challenge and the body."""
    async with (
        ClientSession() as session,
        session.get(f"{url}/admin/report", headers=headers or {}) as response,
    ):
        return response.status, response.headers.get("WWW-Authenticate", ""), await response.text()


async def test_without_an_admin_token_the_report_is_not_served(
    tmp_path: Path, make_bot: MakeBot
) -> None:
    demo_with(tmp_path / "data", "bob", locked=True)
    async with served(make_bot, {}) as url:
        status, _, _ = await status_of(url, {"Authorization": "Bearer "})
    assert status == 404


async def test_the_report_is_refused_without_the_token_and_served_with_it(
    tmp_path: Path, make_bot: MakeBot
) -> None:
    demo_with(tmp_path / "data", "bob", locked=True)
    async with served(make_bot, {TOKEN_VARIABLE: TOKEN}) as url:
        missing = await status_of(url)
        wrong = await status_of(url, {"Authorization": f"Bearer {TOKEN[:-1]}x"})
        basic = await status_of(url, {"Authorization": f"Basic {TOKEN}"})
        async with (
            ClientSession() as session,
            session.get(
                f"{url}/admin/report",
                params={"since": "7d"},
                headers={"Authorization": f"bearer {TOKEN}"},
            ) as response,
        ):
            page, headers, status = await response.text(), response.headers, response.status
        async with (
            ClientSession() as session,
            session.get(
                f"{url}/admin/report",
                params={"since": "last week"},
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as refused,
        ):
            refused_status = refused.status

    assert missing[:2] == (401, 'Bearer realm="sspr-bot admin"')
    assert wrong[:2] == (401, 'Bearer realm="sspr-bot admin", error="invalid_token"')
    assert basic[0] == 401
    assert TOKEN not in missing[2] + wrong[2]
    assert status == 200
    assert headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    assert "<td>4 (57.1 %)</td>" in page
    assert "<td>4 (set report.cost_per_ticket for an amount)</td>" in page
    assert page.count('<svg class="chart"') == 5
    for inline in ("<style", "style=", "<script"):
        assert inline not in page
    assert refused_status == 400


async def test_the_report_page_draws_its_charts_in_chromium_under_the_csp(
    tmp_path: Path, make_bot: MakeBot, browser: Browser
) -> None:
    demo_with(tmp_path / "data", "bob", locked=True)
    messages: list[ConsoleMessage] = []
    missing: list[str] = []
    async with served(make_bot, {TOKEN_VARIABLE: TOKEN}) as url:
        context = await browser.new_context(
            extra_http_headers={"Authorization": f"Bearer {TOKEN}"},
            viewport={"width": 800, "height": 900},
        )
        page = await context.new_page()

        def keep(message: ConsoleMessage) -> None:
            messages.append(message)

        page.on("console", keep)
        page.on(
            "response", lambda answer: missing.append(answer.url) if answer.status >= 400 else None
        )
        response = await page.goto(f"{url}/admin/report?since=30d")
        assert response is not None
        assert response.status == 200
        await expect(page.locator("h1")).to_have_text("Usage and insights")
        charts = page.locator("svg.chart")
        await expect(charts).to_have_count(5)
        for index in range(5):
            chart = charts.nth(index)
            await expect(chart).to_be_visible()
            box = await chart.bounding_box()
            assert box is not None
            assert (box["width"], box["height"] > 40) == (720, True)
        bars = page.locator("#chart-days rect.bar")
        await expect(bars).to_have_count(2)
        assert await bars.first.get_attribute("fill") == "#2b6cb0"
        assert (await page.locator("#chart-methods rect.bar").count()) == 2
        await page.screenshot(path=screenshot_path("admin-report"), full_page=True)
        await context.close()
    problems = [message.text for message in messages if message.type in ("error", "warning")]
    assert not [text for text in problems if "Content Security Policy" in text]
    assert not [text for text in problems if not text.startswith("Failed to load resource")]
    assert set(missing) <= {f"{url}/favicon.ico"}  # the browser's own guess, not the page's
