"""Argon2 work (passwords, security answers) off the event loop, on every core but one.

A hash is memory-hard by design (64 MiB and tens of milliseconds each, RFC 9106's
parameters) and argon2-cffi releases the GIL while it runs, so it belongs on threads; but on
the default executor a burst of answers would take every worker the store and the audit
trail also wait on, and as many hashes as workers would hold memory at once. One small pool
of its own keeps a flood of security answers from stalling other conversations' turns: they
queue here, and everything else goes on. It leaves one core to the event loop (one worker on
a two-core machine), so the turns of those who are not hashing keep their latency.

A worker also runs at a lower CPU priority than the event loop (on Linux, where the nice
value is per thread): the reference argon2 computes its four lanes on threads of their own,
which inherit it, so one verification keeps more than one core busy (150 ms of CPU in
94 ms). Without that, two-check turns' p99 on OpenLDAP went from 12 to 37 ms while 4
answers a second were checked beside them (`python -m bench.resets --hashing-rate 4`);
with it the kernel serves the turns first and the answers take what is left.
"""

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

HASHING_NICENESS = 10
"""How much nicer than the event loop a hashing thread is (Linux nice: 0 to 19)."""


def _behind_the_turns() -> None:
    """Lower this worker's priority: Linux's nice value is per thread (a thread id is a
    `PRIO_PROCESS` target) and threads started from it inherit it. Elsewhere a thread id
    is no process id, so nothing is changed."""
    if sys.platform == "linux":
        thread = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
        )


_POOL = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 1) - 1),
    thread_name_prefix="argon2",
    initializer=_behind_the_turns,
)


async def hashing(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` on the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, function, *args)
