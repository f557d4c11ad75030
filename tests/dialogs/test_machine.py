"""The machine's guards hold whatever the turn logic asks of it."""

import pytest
from transitions import MachineError

from dialogs.machine import ENDS, STATES, ResetMachine, mermaid_diagram
from dialogs.session import Challenge, ResetSession


def session_in(state: str, **fields: object) -> ResetSession:
    return ResetSession(state=state, **fields)  # type: ignore[arg-type]


def test_the_password_step_needs_enough_distinct_proofs() -> None:
    machine = ResetMachine()
    session = session_in(
        "challenged", required=2, passed=["sms", "voice"], proven=["mobile_phone"] * 2
    )
    with machine.attached(session):
        assert not session.verified()
        assert session.state == "challenged"
        session.proven.append("email")
        assert session.verified()
        assert session.state == "choosing_password"


def test_the_directory_write_is_unreachable_without_verification() -> None:
    machine = ResetMachine()
    session = session_in("choosing_password", required=1, passed=[])
    with machine.attached(session):
        assert not session.start_reset()
        assert session.state == "choosing_password"


def test_no_shortcut_from_identifying_to_the_password() -> None:
    machine = ResetMachine()
    session = session_in("identifying", required=1, passed=["email"], proven=["email"])
    with machine.attached(session), pytest.raises(MachineError):
        session.start_reset()


@pytest.mark.parametrize("state", [s for s in STATES if s not in ENDS])
@pytest.mark.parametrize("trigger", ["cancel", "escalate", "expire", "lock"])
def test_cancel_agent_expiry_and_lock_work_from_every_live_state(state: str, trigger: str) -> None:
    machine = ResetMachine()
    session = session_in(state)
    with machine.attached(session):
        assert getattr(session, trigger)()
        assert session.state in ENDS


def test_one_machine_serves_many_sessions_and_lets_them_go() -> None:
    machine = ResetMachine()
    first, second = session_in("idle"), session_in("choosing_method")
    with machine.attached(first), machine.attached(second):
        first.ask_account()
        second.issue_challenge()
    assert (first.state, second.state) == ("identifying", "challenged")


def test_a_session_survives_storage_unchanged() -> None:
    session = session_in(
        "challenged",
        passed=["email"],
        proven=["email"],
        finished="reset",
        challenge=Challenge(method="questions", question_ids=["pet", "city"], answers_ok=[True]),
    )
    assert ResetSession.from_dict(session.to_dict()).to_dict() == session.to_dict()


def test_the_diagram_shows_every_state() -> None:
    diagram = mermaid_diagram()
    assert diagram.splitlines()[3] == "stateDiagram-v2"
    for state in STATES:
        assert f'state "{state}" as {state}' in diagram


def test_a_session_stored_before_proofs_were_kept_counts_its_methods() -> None:
    stored = {"state": "choosing_password", "required": 2, "passed": ["email", "sms"]}
    assert ResetSession.from_dict(stored).has_enough_verifications()
