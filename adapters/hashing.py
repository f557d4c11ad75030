"""Argon2 work (passwords, security answers) off the event loop, on every core but one.

A hash is memory-hard by design (64 MiB and tens of milliseconds each, RFC 9106's
parameters) and argon2-cffi releases the GIL while it runs, so it belongs on threads; but on
the default executor a burst of answers would take every worker the store and the audit
trail also wait on, and as many hashes as workers would hold memory at once. One small pool
of its own keeps a flood of security answers from stalling other conversations' turns: they
queue here, and everything else goes on. It leaves one core to the event loop (one worker on
a two-core machine), so the turns of those who are not hashing keep their latency.

The reference argon2 computes its four lanes on threads of their own, so one verification
keeps more than one core busy (150 ms of CPU in 94 ms on two cores) and one worker alone
would not leave a core free. So a worker (on Linux, where both are per thread and a thread
started from it inherits them, argon2's lane threads included) runs only on the cores but
the first the process may use, and at a lower CPU priority than the event loop: the turns
always have a core argon2 never takes, and win the others when they need them.
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
    """Keep this worker off the first core and lower its priority. On Linux a thread id is
    a target for both (`sched_setaffinity`, `PRIO_PROCESS`); elsewhere it is no process id,
    so nothing is changed."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    cores = sorted(os.sched_getaffinity(thread))
    if len(cores) > 1:
        os.sched_setaffinity(thread, cores[1:])
    os.setpriority(
        os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
    )


def _usable_cores() -> int:
    if sys.platform == "linux":
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


_POOL = ThreadPoolExecutor(
    max_workers=max(1, _usable_cores() - 1),
    thread_name_prefix="argon2",
    initializer=_behind_the_turns,
)


async def hashing(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` on the hashing pool."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, function, *args)
