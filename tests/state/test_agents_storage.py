"""AgentsStorage: the Agents SDK's Storage behaviour, on every Store backend."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from microsoft_agents.hosting.core import ConversationState, TurnContext, UserState
from microsoft_agents.hosting.core.storage import StoreItem
from microsoft_agents.testing import TestAdapter

from state import FrozenClock, SqliteStore, Store, StoreUnavailable
from state.agents_storage import AgentsStorage

OpenSqlite = Callable[..., Awaitable[SqliteStore]]


class Note(StoreItem):
    """Serialises to a dict."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def store_item_to_json(self) -> Any:
        return self.data

    @staticmethod
    def from_json_to_store_item(json_data: Any) -> "Note":
        return Note(json_data)

    def __eq__(self, other: object) -> bool:
        return type(other) is Note and other.data == self.data

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"Note({self.data!r})"


class Pair(StoreItem):
    """Serialises to a list, which a dict-valued Store cannot hold as it is."""

    def __init__(self, data: dict[str, Any], flag: bool) -> None:
        self.data = data
        self.flag = flag

    def store_item_to_json(self) -> Any:
        return [self.data, self.flag]

    @staticmethod
    def from_json_to_store_item(json_data: Any) -> "Pair":
        return Pair(json_data[0], json_data[1])

    def __eq__(self, other: object) -> bool:
        return type(other) is Pair and (other.data, other.flag) == (self.data, self.flag)

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return f"Pair({self.data!r}, {self.flag!r})"


class Unstorable(StoreItem):
    def store_item_to_json(self) -> Any:
        return {"when": object()}

    @staticmethod
    def from_json_to_store_item(json_data: Any) -> "Unstorable":
        return Unstorable()


ODD_KEYS = ["multi word key", "52\\?*", "None", "-", "a!0dslfj", "msteams/users/29:1Ab", "🔑é"]


@pytest.fixture
def storage(store: Store) -> AgentsStorage:
    return AgentsStorage(store)


async def test_read_of_missing_keys_returns_nothing(storage: AgentsStorage) -> None:
    assert await storage.read(["nonexistent", "5", "-"], target_cls=Note) == {}


async def test_write_of_several_items_then_read_them_back(storage: AgentsStorage) -> None:
    changes: dict[str, StoreItem] = {
        "a": Note({"id": "a", "n": 1}),
        "b": Note({"id": "b", "nested": {"list": [1, [2], {"三": 3}]}}),
        "c": Pair({"id": "c"}, True),
    }
    await storage.write(changes)

    assert await storage.read(["a", "b", "missing"], target_cls=Note) == {
        "a": Note({"id": "a", "n": 1}),
        "b": Note({"id": "b", "nested": {"list": [1, [2], {"三": 3}]}}),
    }
    assert await storage.read(["c"], target_cls=Pair) == {"c": Pair({"id": "c"}, True)}


@pytest.mark.parametrize("key", ODD_KEYS)
async def test_any_non_empty_string_is_a_key(storage: AgentsStorage, key: str) -> None:
    await storage.write({key: Note({"key": key})})

    assert await storage.read([key], target_cls=Note) == {key: Note({"key": key})}
    await storage.delete([key])
    assert await storage.read([key], target_cls=Note) == {}


async def test_keys_are_case_sensitive(storage: AgentsStorage) -> None:
    await storage.write({"VAR": Note({"v": 1})})

    assert await storage.read(["var", "VAR"], target_cls=Note) == {"VAR": Note({"v": 1})}


async def test_a_key_asked_for_twice_is_returned_once(storage: AgentsStorage) -> None:
    await storage.write({"a": Note({"v": 1})})

    assert await storage.read(["a", "a"], target_cls=Note) == {"a": Note({"v": 1})}


async def test_write_overwrites_whatever_the_key_held(storage: AgentsStorage) -> None:
    await storage.write({"a": Note({"v": 1, "gone": True}), "b": Note({"v": 2})})
    await storage.write({"a": Note({"v": 3})})

    assert await storage.read(["a", "b"], target_cls=Note) == {
        "a": Note({"v": 3}),
        "b": Note({"v": 2}),
    }


async def test_an_item_is_read_through_the_class_asked_for(storage: AgentsStorage) -> None:
    """The class that reads gets exactly what the writer serialised, whatever its shape."""
    await storage.write({"k": Pair({"x": 1}, False)})

    as_note = (await storage.read(["k"], target_cls=Note))["k"]
    as_pair = (await storage.read(["k"], target_cls=Pair))["k"]

    assert as_note.data == [{"x": 1}, False]
    assert as_pair == Pair({"x": 1}, False)


async def test_a_failing_conversion_propagates(storage: AgentsStorage) -> None:
    await storage.write({"k": Note({"x": 1})})

    with pytest.raises(KeyError):
        await storage.read(["k"], target_cls=Pair)


async def test_the_written_item_is_a_copy(storage: AgentsStorage) -> None:
    note = Note({"list": [1]})
    await storage.write({"k": note})
    note.data["list"].append(2)

    first = (await storage.read(["k"], target_cls=Note))["k"]
    first.data["list"].append(3)

    assert await storage.read(["k"], target_cls=Note) == {"k": Note({"list": [1]})}


async def test_delete_removes_only_the_keys_named(storage: AgentsStorage) -> None:
    await storage.write({"a": Note({}), "b": Note({"v": 2}), "c": Note({"v": 3})})

    await storage.delete(["a", "c"])

    assert await storage.read(["a", "b", "c"], target_cls=Note) == {"b": Note({"v": 2})}


async def test_delete_of_missing_keys_is_fine(storage: AgentsStorage) -> None:
    await storage.write({"kept": Note({"v": 1})})

    await storage.delete(["5", "nonexistent", "-"])
    await storage.delete(["5"])

    assert await storage.read(["kept"], target_cls=Note) == {"kept": Note({"v": 1})}


async def test_delete_takes_any_collection_of_keys(storage: AgentsStorage) -> None:
    """The SDK's AgentState.delete hands over a set."""
    await storage.write({"a": Note({}), "b": Note({})})

    await storage.delete({"a", "b"})

    assert await storage.read(["a", "b"], target_cls=Note) == {}


@pytest.mark.parametrize("keys", [[], None, "key"])
async def test_no_key_list_is_a_value_error(storage: AgentsStorage, keys: Any) -> None:
    with pytest.raises(ValueError, match="keys"):
        await storage.read(keys, target_cls=Note)
    with pytest.raises(ValueError, match="keys"):
        await storage.delete(keys)


@pytest.mark.parametrize("changes", [{}, None])
async def test_no_changes_is_a_value_error(storage: AgentsStorage, changes: Any) -> None:
    with pytest.raises(ValueError, match="changes"):
        await storage.write(changes)


@pytest.mark.parametrize("bad_key", ["", None])
async def test_an_empty_key_is_a_value_error_and_changes_nothing(
    storage: AgentsStorage, bad_key: Any
) -> None:
    await storage.write({"a": Note({"v": 1})})

    with pytest.raises(ValueError, match="key"):
        await storage.read(["a", bad_key], target_cls=Note)
    with pytest.raises(ValueError, match="key"):
        await storage.write({"b": Note({"v": 2}), bad_key: Note({"v": 3})})
    with pytest.raises(ValueError, match="key"):
        await storage.delete(["a", bad_key])

    assert await storage.read(["a", "b"], target_cls=Note) == {"a": Note({"v": 1})}


async def test_read_without_a_target_class_is_a_value_error(storage: AgentsStorage) -> None:
    await storage.write({"a": Note({})})

    with pytest.raises(ValueError, match="target_cls"):
        await storage.read(["a"], target_cls=None)


async def test_an_unstorable_item_fails_before_anything_is_written(
    storage: AgentsStorage,
) -> None:
    with pytest.raises(TypeError):
        await storage.write({"a": Note({"v": 1}), "b": Unstorable()})

    assert await storage.read(["a", "b"], target_cls=Note) == {}


async def test_an_e_tag_field_is_plain_data_and_writes_always_win(storage: AgentsStorage) -> None:
    """The SDK's Storage has no optimistic concurrency: whatever e_tag an item carries,
    the write overwrites, and the field comes back as it was written."""
    await storage.write({"k": Note({"e_tag": "1", "v": "first"})})

    await storage.write({"k": Note({"e_tag": "stale", "v": "second"})})
    assert await storage.read(["k"], target_cls=Note) == {
        "k": Note({"e_tag": "stale", "v": "second"})
    }

    await storage.write({"k": Note({"e_tag": "*", "v": "third"})})
    assert await storage.read(["k"], target_cls=Note) == {"k": Note({"e_tag": "*", "v": "third"})}


async def test_sdk_keys_never_meet_our_own(store: Store) -> None:
    storage = AgentsStorage(store)
    await store.put("session:1", {"state": "ours"})

    await storage.write({"session:1": Note({"state": "sdk"})})

    own = await store.get("session:1")
    assert own is not None
    assert own.value == {"state": "ours"}
    assert await storage.read(["session:1"], target_cls=Note) == {
        "session:1": Note({"state": "sdk"})
    }
    assert await store.get("agents:session:1") is not None

    await storage.delete(["session:1"])
    assert await store.get("session:1") is not None
    assert await store.get("agents:session:1") is None


async def test_each_kind_is_its_own_namespace(store: Store) -> None:
    first = AgentsStorage(store, kind="bot-a")
    second = AgentsStorage(store, kind="bot-b")

    await first.write({"k": Note({"bot": "a"})})
    await second.write({"k": Note({"bot": "b"})})
    await second.delete(["k"])

    assert await first.read(["k"], target_cls=Note) == {"k": Note({"bot": "a"})}
    assert await second.read(["k"], target_cls=Note) == {}


async def test_two_storages_over_one_store_see_each_others_writes(store: Store) -> None:
    """As two bot instances sharing one backend do."""
    await AgentsStorage(store).write({"k": Note({"v": 1})})

    assert await AgentsStorage(store).read(["k"], target_cls=Note) == {"k": Note({"v": 1})}


async def test_without_ttl_items_do_not_expire(store: Store, clock: FrozenClock) -> None:
    storage = AgentsStorage(store)
    await storage.write({"k": Note({})})

    clock.advance(10 * 365 * 86400)

    assert await storage.read(["k"], target_cls=Note) == {"k": Note({})}


async def test_with_ttl_an_item_expires_after_its_latest_write(
    store: Store, clock: FrozenClock
) -> None:
    storage = AgentsStorage(store, ttl=60)
    await storage.write({"k": Note({"v": 1}), "other": Note({})})

    clock.advance(59)
    assert await storage.read(["k"], target_cls=Note) == {"k": Note({"v": 1})}
    await storage.write({"k": Note({"v": 2})})

    clock.advance(59)
    assert await storage.read(["k", "other"], target_cls=Note) == {"k": Note({"v": 2})}

    clock.advance(1)
    assert await storage.read(["k"], target_cls=Note) == {}


@pytest.mark.parametrize("options", [{"kind": ""}, {"kind": "a:b"}, {"ttl": 0}, {"ttl": -1}])
def test_invalid_options_are_refused(store: Store, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"kind|ttl"):
        AgentsStorage(store, **options)


async def test_an_unavailable_backend_propagates_unchanged(open_sqlite: OpenSqlite) -> None:
    sqlite_store = await open_sqlite()
    storage = AgentsStorage(sqlite_store)
    await storage.write({"k": Note({})})
    await sqlite_store.close()

    with pytest.raises(StoreUnavailable):
        await storage.read(["k"], target_cls=Note)
    with pytest.raises(StoreUnavailable):
        await storage.write({"k": Note({})})
    with pytest.raises(StoreUnavailable):
        await storage.delete(["k"])


class Profile(StoreItem):
    def __init__(self, name: str = "", visits: int = 0) -> None:
        self.name = name
        self.visits = visits

    def store_item_to_json(self) -> Any:
        return {"name": self.name, "visits": self.visits}

    @staticmethod
    def from_json_to_store_item(json_data: Any) -> "Profile":
        return Profile(json_data["name"], json_data["visits"])


async def test_sdk_state_survives_between_turns_through_the_store(store: Store) -> None:
    """Each turn runs on a fresh adapter, fresh SDK state objects and a fresh AgentsStorage,
    as if on another bot instance: only the shared Store carries state from turn to turn."""
    reference = TestAdapter.create_conversation_model(user_id="user-1", conv_id="conv-1")

    async def turn(text: str) -> str:
        storage = AgentsStorage(store)
        conversation = ConversationState(storage)
        user = UserState(storage)
        replies: list[str] = []

        async def on_turn(context: TurnContext) -> None:
            if context.activity.text == "forget":
                await conversation.load(context)
                await conversation.delete(context)
                replies.append("forgotten")
                return
            turns = conversation.create_property("turns")
            profile = user.create_property("profile")
            count: int = await turns.get(context, lambda: 0) + 1  # type: ignore[operator]
            seen = await profile.get(context, Profile, target_cls=Profile)
            assert isinstance(seen, Profile)
            seen.name = seen.name or (context.activity.text or "")
            seen.visits += 1
            await turns.set(context, count)
            await profile.set(context, seen)
            await conversation.save(context)
            await user.save(context)
            replies.append(f"{seen.name}: turn {count}, visit {seen.visits}")

        adapter = TestAdapter(conversation=reference)
        await adapter.send_text_to_bot(text, on_turn)
        (reply,) = replies
        return reply

    assert await turn("Zoë") == "Zoë: turn 1, visit 1"
    assert await turn("again") == "Zoë: turn 2, visit 2"
    assert await turn("forget") == "forgotten"
    assert await turn("later") == "Zoë: turn 1, visit 3"

    conversation_key = "agents:test/conversations/conv-1"
    user_key = "agents:test/users/user-1"
    kept = await store.get(conversation_key)
    assert kept is not None
    assert kept.value == {"item": {"turns": 1}}
    profile = await store.get(user_key)
    assert profile is not None
    assert profile.value == {"item": {"profile": {"name": "Zoë", "visits": 3}}}
