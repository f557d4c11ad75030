"""Argon2 work (passwords, security answers) off the event loop, on every core but one.

A hash is memory-hard by design (64 MiB and tens of milliseconds each, RFC 9106's
parameters) and argon2-cffi releases the GIL while it runs, so it belongs on threads; but on
the default executor a burst of answers would take every worker the store and the audit
trail also wait on, and as many hashes as workers would hold memory at once. One small pool
of its own keeps a flood of security answers from stalling other conversations' turns: they
queue here, and everything else goes on. It leaves one core to the event loop (one worker on
a two-core machine), so the turns of those who are not hashing keep their latency.
"""

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_POOL = ThreadPoolExecutor(
    max_workers=max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="argon2"
)


async def hashing(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` on the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, function, *args)
