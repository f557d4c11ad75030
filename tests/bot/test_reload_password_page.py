"""The password page states and checks the rules its conversation began under: a reload
that changes the password rules holds for links sent in conversations begun after it."""

from pathlib import Path

import yaml

from bot.reload import Reloader
from tests.support.http_fixtures import HttpBot, MakeHttpBot
from tests.support.password_page import form_token, page, post, verified

STRONG_13 = "Qx7!vLm9#pR2w"  # long enough for 12, too short for 16


def reload_with(bot: HttpBot, path: Path, **password: object) -> None:
    document = {"data_dir": str(bot.runtime.settings.data_dir), "password": password}
    path.write_text(yaml.safe_dump(document), encoding="utf-8")


async def test_a_reload_changes_the_page_for_conversations_begun_after_it(
    make_http_bot: MakeHttpBot, tmp_path: Path
) -> None:
    async with make_http_bot(password={"entry": "link"}) as bot:
        before = await verified(bot, conversation="begun-before")
        config = tmp_path / "sspr.yaml"
        reload_with(bot, config, entry="link", min_length=16)
        runtime = bot.runtime
        reloader = Reloader(
            config, started=runtime.settings, versions=runtime.versions, audit=runtime.audit
        )
        assert (await reloader.reload("sighup")).outcome == "applied"
        after = await verified(bot, conversation="begun-after")

        _, old_form, _ = await page(bot, before)
        _, new_form, _ = await page(bot, after)
        assert "12 to 256 characters" in old_form
        assert "16 to 256 characters" in new_form

        refused, html = await post(bot, after, form_token(new_form), STRONG_13)
        assert refused == 400
        assert "at least 16 characters" in html
        done, _ = await post(bot, before, form_token(old_form), STRONG_13)
        assert done == 200
