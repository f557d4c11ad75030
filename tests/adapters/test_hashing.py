"""Argon2 work queues on its own pool, behind the event loop: a flood of hashes leaves the
default executor (the SQLite store, the audit trail, the directory's file) free, and the
CPU to the turns first."""

import asyncio
import os
import threading

from adapters.directory.answers import answer_matches, hash_answer
from adapters.hashing import HASHING_NICENESS, hashing


async def test_other_thread_work_does_not_wait_behind_queued_hashes() -> None:
    """Were the hashes on the default executor, they would take all its workers and the
    other work would wait for one of them to finish."""
    hashes = [asyncio.ensure_future(hashing(hash_answer, f"answer {n}")) for n in range(16)]
    await asyncio.sleep(0)  # let them reach their pool
    assert await asyncio.to_thread(sum, [1, 2, 3]) == 6
    assert not any(task.done() for task in hashes)
    done = await asyncio.gather(*hashes)
    assert await hashing(answer_matches, done[0], "answer 0")
    assert not await hashing(answer_matches, done[0], "answer 1")


def _place_here() -> tuple[int, frozenset[int]]:
    """This thread's nice value and the cores it may run on."""
    thread = threading.get_native_id()
    return os.getpriority(os.PRIO_PROCESS, thread), frozenset(os.sched_getaffinity(thread))


def _place_of_a_thread_started_here() -> tuple[int, frozenset[int]]:
    seen: list[tuple[int, frozenset[int]]] = []
    thread = threading.Thread(target=lambda: seen.append(_place_here()))
    thread.start()
    thread.join()
    return seen[0]


async def test_hashes_run_behind_the_event_loop_and_so_do_argon2s_own_threads() -> None:
    """The event loop's thread keeps its priority and every core; the hashing worker and
    any thread it starts (argon2 computes its lanes on threads of its own) are nicer by
    HASHING_NICENESS and leave the first core to the turns (on a machine that has more
    than one)."""
    loop_nice, loop_cores = _place_here()
    cores = loop_cores - {min(loop_cores)} if len(loop_cores) > 1 else loop_cores
    expected = (min(19, loop_nice + HASHING_NICENESS), cores)

    assert await hashing(_place_here) == expected
    assert await hashing(_place_of_a_thread_started_here) == expected
    assert _place_here() == (loop_nice, loop_cores)
    assert await asyncio.to_thread(_place_here) == (loop_nice, loop_cores)
