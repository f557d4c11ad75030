"""The Store contract: what the dialog core may rely on, whatever the backend.

Not a test module of its own: `test_store_contract.py` runs these tests on every backend
and `test_redis_topologies.py` on Redis Cluster and behind Sentinel, each on its own
`store` and `open_instance` fixtures.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from state import EtagMismatch, FrozenClock, Store

OpenInstance = Callable[[], Awaitable[Store]]

SESSION = {
    "state": "challenged",
    "account": "zoë.müller@example.com",
    "greeting": "密码重置 🔑",
    "methods": [{"name": "email", "passed": True}, {"name": "sms", "passed": False}],
    "attempts": 2,
    "score": 0.5,
    "escalated": None,
    "nested": {"deeper": {"list": [1, [2, [3]], {"four": 4}]}},
}


async def test_get_of_missing_key_is_none(store: Store) -> None:
    assert await store.get("session:nobody") is None


async def test_put_then_get_returns_the_value_and_its_etag(store: Store) -> None:
    etag = await store.put("session:1", SESSION)

    record = await store.get("session:1")

    assert record is not None
    assert record.value == SESSION
    assert record.etag == etag


async def test_the_stored_value_is_a_copy(store: Store) -> None:
    value: dict[str, Any] = {"methods": ["email"]}
    await store.put("session:1", value)
    value["methods"].append("sms")

    first = await store.get("session:1")
    assert first is not None
    first.value["methods"].append("voice")

    second = await store.get("session:1")
    assert second is not None
    assert second.value == {"methods": ["email"]}


async def test_every_write_changes_the_etag(store: Store) -> None:
    etags = [await store.put("session:1", {"n": 1}) for _ in range(3)]
    etags.append(await store.put("session:1", {"n": 1}, if_match=etags[-1]))

    assert all(isinstance(etag, str) and etag for etag in etags)
    assert len(set(etags)) == len(etags)


async def test_if_match_with_the_current_etag_writes(store: Store) -> None:
    etag = await store.put("session:1", {"state": "identifying"})

    new_etag = await store.put("session:1", {"state": "challenged"}, if_match=etag)

    record = await store.get("session:1")
    assert record is not None
    assert (record.value, record.etag) == ({"state": "challenged"}, new_etag)


async def test_if_match_with_a_stale_etag_fails_and_changes_nothing(store: Store) -> None:
    stale = await store.put("session:1", {"state": "identifying"})
    current = await store.put("session:1", {"state": "challenged"}, if_match=stale)

    with pytest.raises(EtagMismatch):
        await store.put("session:1", {"state": "done"}, if_match=stale)

    record = await store.get("session:1")
    assert record is not None
    assert (record.value, record.etag) == ({"state": "challenged"}, current)


async def test_if_match_on_an_absent_record_fails(store: Store) -> None:
    with pytest.raises(EtagMismatch):
        await store.put("session:1", {"state": "done"}, if_match="anything")

    assert await store.get("session:1") is None


async def test_if_none_match_creates_an_absent_record(store: Store) -> None:
    etag = await store.put("session:1", {"state": "idle"}, if_none_match=True)

    record = await store.get("session:1")
    assert record is not None
    assert record.etag == etag


async def test_if_none_match_fails_on_a_present_record(store: Store) -> None:
    etag = await store.put("session:1", {"state": "idle"})

    with pytest.raises(EtagMismatch):
        await store.put("session:1", {"state": "done"}, if_none_match=True)

    record = await store.get("session:1")
    assert record is not None
    assert (record.value, record.etag) == ({"state": "idle"}, etag)


async def test_unconditional_put_overwrites(store: Store) -> None:
    await store.put("session:1", {"state": "idle"})

    etag = await store.put("session:1", {"state": "cancelled"})

    record = await store.get("session:1")
    assert record is not None
    assert (record.value, record.etag) == ({"state": "cancelled"}, etag)


async def test_delete_removes_a_live_record(store: Store) -> None:
    await store.put("session:1", {"state": "idle"})

    assert await store.delete("session:1") is True
    assert await store.get("session:1") is None


async def test_delete_with_the_current_etag_removes(store: Store) -> None:
    etag = await store.put("session:1", {"state": "idle"})

    assert await store.delete("session:1", if_match=etag) is True
    assert await store.get("session:1") is None


async def test_delete_with_a_stale_etag_fails_and_keeps_the_record(store: Store) -> None:
    stale = await store.put("session:1", {"state": "idle"})
    current = await store.put("session:1", {"state": "challenged"})

    with pytest.raises(EtagMismatch):
        await store.delete("session:1", if_match=stale)

    record = await store.get("session:1")
    assert record is not None
    assert record.etag == current


async def test_delete_of_a_missing_record_returns_false(store: Store) -> None:
    assert await store.delete("session:nobody") is False


async def test_a_record_lives_exactly_its_ttl(store: Store, clock: FrozenClock) -> None:
    await store.put("code:1", {"hash": "x"}, ttl=300)

    clock.advance(299)
    assert await store.get("code:1") is not None
    clock.advance(2)
    assert await store.get("code:1") is None


async def test_an_expired_record_counts_as_absent_for_writes(
    store: Store, clock: FrozenClock
) -> None:
    old = await store.put("code:1", {"hash": "old"}, ttl=300)
    clock.advance(301)

    with pytest.raises(EtagMismatch):
        await store.put("code:1", {"hash": "late"}, if_match=old)
    assert await store.delete("code:1") is False
    await store.put("code:1", {"hash": "new"}, if_none_match=True)

    record = await store.get("code:1")
    assert record is not None
    assert record.value == {"hash": "new"}


async def test_a_put_without_ttl_keeps_the_record(store: Store, clock: FrozenClock) -> None:
    await store.put("session:1", {"state": "idle"}, ttl=60)
    await store.put("session:1", {"state": "idle"})

    clock.advance(10 * 365 * 86_400)

    assert await store.get("session:1") is not None


async def test_take_grants_up_to_the_limit(store: Store) -> None:
    granted = [await store.take("fail:alice", limit=3, window=60) for _ in range(5)]

    assert granted == [True, True, True, False, False]
    assert await store.count("fail:alice", window=60) == 3


async def test_slots_free_up_as_the_window_slides(store: Store, clock: FrozenClock) -> None:
    for _ in range(3):
        assert await store.take("fail:alice", limit=3, window=60)
        clock.advance(10)
    assert not await store.take("fail:alice", limit=3, window=60)

    clock.advance(31)  # the first event, 61 s old, has left the window; the others have not
    assert await store.take("fail:alice", limit=3, window=60)
    assert not await store.take("fail:alice", limit=3, window=60)


async def test_count_sees_only_the_window(store: Store, clock: FrozenClock) -> None:
    await store.take("send:alice", limit=10, window=3600)
    clock.advance(100)
    await store.take("send:alice", limit=10, window=3600)
    await store.take("send:bob", limit=10, window=3600)

    assert await store.count("send:alice", window=3600) == 2
    assert await store.count("send:alice", window=50) == 1
    assert await store.count("send:carol", window=3600) == 0


async def test_give_back_removes_only_the_newest_event(store: Store, clock: FrozenClock) -> None:
    await store.take("fail:alice", limit=5, window=60)
    clock.advance(10)
    await store.take("fail:alice", limit=5, window=60)

    await store.give_back("fail:alice")

    assert await store.count("fail:alice", window=60) == 1
    clock.advance(55)  # the older event is now 65 s old: if it was the one kept, none remain
    assert await store.count("fail:alice", window=60) == 0


async def test_give_back_on_an_empty_counter_does_nothing(store: Store) -> None:
    await store.give_back("fail:nobody")

    assert await store.count("fail:nobody", window=60) == 0


async def test_clear_forgets_every_event(store: Store) -> None:
    for _ in range(3):
        await store.take("fail:alice", limit=3, window=60)
    await store.take("fail:bob", limit=3, window=60)

    await store.clear("fail:alice")

    assert await store.count("fail:alice", window=60) == 0
    assert await store.take("fail:alice", limit=3, window=60)
    assert await store.count("fail:bob", window=60) == 1


async def test_clear_takes_several_counters_of_one_subject_at_once(store: Store) -> None:
    for key in ("fail:alice", "send-email:alice", "send-sms:alice", "fail:bob"):
        await store.take(key, limit=3, window=60)

    await store.clear("fail:alice", "send-email:alice", "send-sms:alice", "send-voice:alice")

    for key in ("fail:alice", "send-email:alice", "send-sms:alice"):
        assert await store.count(key, window=60) == 0
    assert await store.count("fail:bob", window=60) == 1


async def test_counters_and_records_do_not_share_keys(store: Store) -> None:
    await store.put("alice", {"state": "idle"})
    await store.take("alice", limit=1, window=60)

    await store.clear("alice")
    assert await store.get("alice") is not None
    assert await store.delete("alice")
    assert not await store.take("alice", limit=0, window=60)


async def test_parallel_takes_never_exceed_the_limit(store: Store) -> None:
    results = await asyncio.gather(
        *(store.take("fail:alice", limit=5, window=60) for _ in range(50))
    )

    assert results.count(True) == 5
    assert await store.count("fail:alice", window=60) == 5


async def test_parallel_conditional_puts_have_one_winner(store: Store) -> None:
    etag = await store.put("session:1", {"turn": 0})

    results = await asyncio.gather(
        *(store.put("session:1", {"turn": n}, if_match=etag) for n in range(1, 21)),
        return_exceptions=True,
    )

    winners = [result for result in results if isinstance(result, str)]
    assert len(winners) == 1
    assert all(isinstance(r, EtagMismatch) for r in results if not isinstance(r, str))
    record = await store.get("session:1")
    assert record is not None
    assert record.etag == winners[0]


async def test_ping_answers(store: Store) -> None:
    await store.ping()


async def test_instances_sharing_a_backend_have_one_winner_among_parallel_puts(
    open_instance: OpenInstance,
) -> None:
    one, two = await open_instance(), await open_instance()
    etag = await one.put("session:1", {"turn": 0})

    results = await asyncio.gather(
        *(
            (one if n % 2 else two).put("session:1", {"turn": n}, if_match=etag)
            for n in range(1, 51)
        ),
        return_exceptions=True,
    )

    winners = [result for result in results if isinstance(result, str)]
    assert len(winners) == 1
    assert all(isinstance(r, EtagMismatch) for r in results if not isinstance(r, str))
    seen_by_one, seen_by_two = await one.get("session:1"), await two.get("session:1")
    assert seen_by_one == seen_by_two
    assert seen_by_one is not None
    assert seen_by_one.etag == winners[0]


async def test_instances_sharing_a_backend_share_one_budget(open_instance: OpenInstance) -> None:
    stores = [await open_instance() for _ in range(3)]

    results = await asyncio.gather(
        *(stores[n % 3].take("fail:alice", limit=5, window=60) for n in range(50))
    )

    assert results.count(True) == 5
    for each in stores:
        assert await each.count("fail:alice", window=60) == 5


# The tests above by name, for a module that runs the contract to take in with
# `globals().update(CONTRACT)`.
CONTRACT: dict[str, Callable[..., Awaitable[None]]] = {
    name: test for name, test in globals().items() if name.startswith("test_")
}
