"""The conversation as one state machine definition shared by every session.

Sessions are models: a turn attaches the session, fires triggers and detaches it again, so
one `transitions.Machine` serves any number of conversations. The guards live here, not in
the turn logic: the password step and the directory write are unreachable until the
session holds enough distinct passed methods, whatever the caller does. A session that
registers methods (`purpose` "register") shares the verification states with a reset but
can never reach the password step, and a reset session never reaches a registering state.
A re-confirmation (`dialogs.reconfirmation`) is a registering session that starts from its
own menu; put off before anything is checked, it becomes the reset, with nothing proven.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transitions import Machine

STATES = [
    "idle",
    "identifying",
    "choosing_method",
    "challenged",
    "reconfirming",
    "choosing_password",
    "awaiting_password",
    "resetting",
    "enrolling",
    "enrolling_authenticator",
    "enrolling_questions",
    "done",
    "enrolled",
    "locked",
    "cancelled",
    "expired",
    "escalated",
]
ENDS = frozenset({"done", "enrolled", "locked", "cancelled", "expired", "escalated"})
_LIVE = [state for state in STATES if state not in ENDS]
# A registering session never goes toward the password, a reset session never registers.
_RESET = ["for_reset", "has_enough_verifications"]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "ask_account", "source": "idle", "dest": "identifying"},
    {
        "trigger": "ask_to_reconfirm",
        "source": "idle",
        "dest": "reconfirming",
        "conditions": "registering",
    },
    {
        "trigger": "defer_reconfirmation",
        "source": "reconfirming",
        "dest": "choosing_method",
        "conditions": ["for_reset", "nothing_proven"],
    },
    {
        "trigger": "issue_challenge",
        "source": ["identifying", "choosing_method", "challenged", "reconfirming"],
        "dest": "challenged",
    },
    {"trigger": "offer_methods", "source": ["idle", "challenged"], "dest": "choosing_method"},
    {
        "trigger": "offer_methods",
        "source": "enrolling",
        "dest": "choosing_method",
        "conditions": "can_enrol",
    },
    {
        "trigger": "verified",
        "source": "challenged",
        "dest": "choosing_password",
        "conditions": _RESET,
    },
    {
        "trigger": "send_link",
        "source": "choosing_password",
        "dest": "awaiting_password",
        "conditions": _RESET,
    },
    {
        "trigger": "start_reset",
        "source": ["choosing_password", "awaiting_password"],
        "dest": "resetting",
        "conditions": _RESET,
    },
    {
        "trigger": "start_unlock",
        "source": "choosing_password",
        "dest": "resetting",
        "conditions": _RESET,
    },
    {
        "trigger": "change_failed",
        "source": "resetting",
        "dest": "awaiting_password",
        "conditions": "has_link",
    },
    {"trigger": "change_failed", "source": "resetting", "dest": "choosing_password"},
    {"trigger": "finish", "source": "resetting", "dest": "done"},
    {
        "trigger": "enrol",
        "source": ["idle", "challenged", "enrolling_authenticator", "enrolling_questions"],
        "dest": "enrolling",
        "conditions": "can_enrol",
    },
    {
        "trigger": "add_authenticator",
        "source": "enrolling",
        "dest": "enrolling_authenticator",
        "conditions": "can_enrol",
    },
    {
        "trigger": "add_questions",
        "source": "enrolling",
        "dest": "enrolling_questions",
        "conditions": "can_enrol",
    },
    {
        "trigger": "finish_enrolment",
        "source": "enrolling",
        "dest": "enrolled",
        "conditions": "can_enrol",
    },
    {"trigger": "lock", "source": _LIVE, "dest": "locked"},
    {"trigger": "cancel", "source": _LIVE, "dest": "cancelled"},
    {"trigger": "escalate", "source": _LIVE, "dest": "escalated"},
    {"trigger": "expire", "source": _LIVE, "dest": "expired"},
]

MACHINE_OPTIONS: dict[str, Any] = {
    "states": STATES,
    "transitions": TRANSITIONS,
    "initial": "idle",
    "auto_transitions": False,
    "ignore_invalid_triggers": False,
}


class _SessionMachine(Machine):
    """A machine that binds nothing to a session when it is attached.

    `Machine.add_model` sets a partial on the model for each of the twenty triggers, gives
    it an `is_<state>` helper and a `may_<trigger>` one, and looks for `on_enter_<state>`
    and `on_exit_<state>` methods on it, state by state. A session is attached for every
    turn and fires one or two triggers in it, so it asks for a trigger when it fires it
    (`ResetSession.__getattr__`, from the events lent by `ResetMachine.attached`); it uses
    none of the helpers (its state is `session.state`; the machine has no state callbacks).
    """

    def _add_trigger_to_model(self, trigger: str, model: Any) -> None:
        return None

    def _add_model_to_state(self, state: Any, model: Any) -> None:
        return None


class ResetMachine:
    """The one machine; `attached` lends it to a session for the length of a turn."""

    def __init__(self) -> None:
        self._machine = _SessionMachine(model=None, **MACHINE_OPTIONS)

    @contextmanager
    def attached(self, session: Any) -> Iterator[Any]:
        self._machine.add_model(session, initial=session.state)
        session.lend_triggers(self._machine.events)
        try:
            yield session
        finally:
            session.lend_triggers(None)
            self._machine.remove_model(session)


DIAGRAM_TITLE = "sspr-bot reset conversation"


def mermaid_diagram(title: str = DIAGRAM_TITLE) -> str:
    """The machine as a Mermaid state diagram, for admins and reviewers."""
    from transitions.extensions import GraphMachine

    graph = GraphMachine(
        graph_engine="mermaid", title=title, show_conditions=True, **MACHINE_OPTIONS
    )
    return str(graph.get_graph().source)
