"""Argon2 work queues on its own pool: a flood of hashes leaves the default executor (the
SQLite store, the audit trail, the directory's file) free."""

import asyncio

from adapters.directory.answers import answer_matches, hash_answer
from adapters.hashing import hashing


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
