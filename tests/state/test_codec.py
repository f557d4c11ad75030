"""The stores' JSON reads back the same values with orjson and with the json module, and
their tokens never repeat."""

import json
from importlib.util import find_spec

import pytest

from state import codec
from state.tokens import UniqueTokens

SESSION = {
    "state": "identified",
    "account": "acct-1",
    "typed": "Zoë Øster 🙂",
    "methods": ["email", "sms"],
    "pending": {"sent_at": 1733270400.25, "tries": 0, "gone": None, "ok": True},
}


@pytest.fixture(params=["orjson", "json"])
def with_library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "json":
        monkeypatch.setattr(codec, "orjson", None)
    else:
        assert find_spec("orjson"), "orjson (the `fast` extra) is not installed"
    return str(request.param)


def test_a_session_reads_back_as_written(with_library: str) -> None:
    written = codec.dumps(SESSION)

    assert isinstance(written, bytes)
    assert codec.loads(written) == SESSION
    assert codec.loads(written.decode()) == SESSION
    assert json.loads(written) == SESSION


def test_keys_that_are_not_text_are_written_as_text(with_library: str) -> None:
    assert codec.loads(codec.dumps({1: "one", "two": 2})) == {"1": "one", "two": 2}


def test_what_json_cannot_hold_is_refused(with_library: str) -> None:
    with pytest.raises(TypeError):
        codec.dumps({"when": object()})
    with pytest.raises(ValueError, match=r"."):
        codec.loads(b"{not json")


def test_tokens_never_repeat_within_or_across_instances() -> None:
    one, two = UniqueTokens(), UniqueTokens()

    tokens = [one.next() for _ in range(5000)] + [two.next() for _ in range(5000)]

    assert len(set(tokens)) == len(tokens)
