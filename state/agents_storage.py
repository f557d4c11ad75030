"""The Agents SDK's `Storage` over any of our Store backends (memory, SQLite, Redis).

Everything in the SDK that keeps data between turns (ConversationState, UserState, sign-in
flows, proactive conversation references) does so through a `Storage`. Handing it an
`AgentsStorage` puts that data in the same backend as our own sessions and counters, so
several bot instances share it and it survives a restart.

Behaviour follows the SDK's `MemoryStorage` and its shared storage tests:

- `read` returns only the keys that are present; a missing key is simply left out.
- An empty or missing key list, an empty (or non-string) key, and a missing `target_cls`
  raise ValueError; so does `write` of no changes. Every key is checked before the backend
  is touched, so a rejected call changes nothing.
- `write` overwrites unconditionally (last writer wins) and `delete` of a missing key is a
  no-op. The SDK defines no e_tag semantics: an `e_tag` field in an item is plain data
  and is stored and returned like any other field.
- A read item is `target_cls.from_json_to_store_item(<what the item serialised to>)`, so an
  item written by one class can be read back by another; errors of that conversion
  propagate.

Each SDK key is stored under `<kind>:<key>` (default kind `agents`), beside and never on
top of our own `kind:subject` keys. The serialised item is kept as `{"item": <json>}`,
which lets items that serialise to a list or a scalar live in a dict-valued Store. Errors
of the backend (StoreUnavailable) propagate unchanged. The Store is borrowed, not owned:
closing it is the caller's business.
"""

import asyncio
import json
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from microsoft_agents.hosting.core.storage import Storage, StoreItem

from state.base import Store

StoreItemT = TypeVar("StoreItemT", bound=StoreItem)

_ITEM = "item"


class AgentsStorage(Storage):
    def __init__(self, store: Store, *, kind: str = "agents", ttl: float | None = None) -> None:
        """SDK storage kept in `store` under `<kind>:` keys.

        `ttl` (seconds) makes every written item expire that long after its latest write;
        None keeps items until they are deleted.
        """
        if not kind or ":" in kind:
            raise ValueError("kind must be a non-empty name without ':'")
        if ttl is not None and not ttl > 0:
            raise ValueError("ttl must be a positive number of seconds, or None")
        self._store = store
        self._prefix = f"{kind}:"
        self._ttl = ttl

    async def read(
        self,
        keys: Iterable[str] | None,
        *,
        target_cls: type[StoreItemT] | None = None,
        **kwargs: Any,
    ) -> dict[str, StoreItemT]:
        """The items stored under `keys`, as `target_cls`; absent keys are left out."""
        wanted = _checked_keys(keys, "read")
        if target_cls is None:
            raise ValueError("AgentsStorage.read(): target_cls is required")
        records = await asyncio.gather(*(self._store.get(self._key(key)) for key in wanted))
        items: dict[str, StoreItemT] = {}
        for key, record in zip(wanted, records, strict=True):
            if record is None:
                continue
            if _ITEM not in record.value:
                raise ValueError(f"AgentsStorage.read(): {key!r} does not hold an SDK item")
            item = target_cls.from_json_to_store_item(record.value[_ITEM])
            items[key] = cast(StoreItemT, item)
        return items

    async def write(self, changes: Mapping[str, StoreItem] | None) -> None:
        """Store every item of `changes`, overwriting what its key held."""
        if not changes:
            raise ValueError("AgentsStorage.write(): changes are required")
        _checked_keys(changes.keys(), "write")
        documents: dict[str, dict[str, Any]] = {}
        for key, item in changes.items():
            document = {_ITEM: item.store_item_to_json()}
            # Every item must be storable before the first one is written.
            json.dumps(document, allow_nan=False)
            documents[key] = document
        await asyncio.gather(
            *(
                self._store.put(self._key(key), document, ttl=self._ttl)
                for key, document in documents.items()
            )
        )

    async def delete(self, keys: Iterable[str] | None) -> None:
        """Remove the items under `keys`; keys that hold nothing are ignored."""
        doomed = _checked_keys(keys, "delete")
        await asyncio.gather(*(self._store.delete(self._key(key)) for key in doomed))

    def _key(self, key: str) -> str:
        return self._prefix + key


def _checked_keys(keys: Iterable[str] | None, operation: str) -> list[str]:
    """`keys` without repeats, in order; ValueError unless there is at least one and every
    one is a non-empty string."""
    if keys is None or isinstance(keys, str | bytes):
        raise ValueError(f"AgentsStorage.{operation}(): a list of keys is required")
    given = list(keys)
    if not given:
        raise ValueError(f"AgentsStorage.{operation}(): keys are required")
    for key in given:
        if not isinstance(key, str) or not key:
            raise ValueError(f"AgentsStorage.{operation}(): a key must be a non-empty string")
    return list(dict.fromkeys(given))
