"""Work that outlives the message that started it: code deliveries and notices after a
turn, Slack turns after Slack's three-second acknowledgement.

One pool per process, handed to every part that starts such work, so shutdown waits for all
of it in one place, and a bound on new work (Slack's on turns in flight) counts everything
the process has under way.
"""

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    def start(
        self,
        work: Coroutine[Any, Any, object],
        *,
        failed: str,
        at_most: int | None = None,
        level: int = logging.WARNING,
    ) -> bool:
        """Run `work` on its own; a failure is logged as `failed` (with the error's type
        only: its text may carry what a user typed). False, with `work` never run, once
        the pool is closing or already holds `at_most` tasks."""
        if self._closing or (at_most is not None and len(self._tasks) >= at_most):
            work.close()
            return False
        task = asyncio.get_running_loop().create_task(self._logged(work, failed, level))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def drain(self) -> None:
        """Return once every task started so far, and any they started, has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Refuse new work, then finish what runs."""
        self._closing = True
        await self.drain()

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, object], failed: str, level: int) -> None:
        try:
            await work
        except Exception as error:
            log.log(level, failed, extra={"error": type(error).__name__})
