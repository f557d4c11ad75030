"""The conversation's step table covers the machine: every live state that takes a message
has its step, and no step serves a state the machine lacks or an end."""

from dialogs.conversation import STEPS, WITHOUT_INPUT, Conversation, uncovered_states
from dialogs.machine import ENDS, STATES


def test_every_live_state_that_takes_a_message_has_a_step() -> None:
    assert set(STEPS) | WITHOUT_INPUT | ENDS == set(STATES)
    assert not set(STEPS) & (ENDS | WITHOUT_INPUT)
    assert uncovered_states(STEPS) == set()


def test_a_missing_or_unknown_step_is_reported() -> None:
    partial = {state: step for state, step in STEPS.items() if state != "challenged"}
    assert uncovered_states(partial) == {"challenged"}
    assert uncovered_states({**STEPS, "done": Conversation._begin}) == {"done"}
