"""The machine's guards hold whatever the turn logic asks of it."""

import pytest
from transitions import MachineError

from dialogs.machine import ENDS, STATES, TRANSITIONS, ResetMachine, mermaid_diagram
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


def test_a_detached_session_has_no_triggers_and_stores_none() -> None:
    machine = ResetMachine()
    session = session_in("choosing_password")
    session.proven, session.required = ["email"], 1
    with machine.attached(session):
        assert session.send_link()
    with pytest.raises(AttributeError):
        session.start_reset()
    with pytest.raises(AttributeError):
        session.not_a_trigger()  # type: ignore[attr-defined]
    assert session.state == "awaiting_password"
    assert ResetSession.from_dict(session.to_dict()).to_dict() == session.to_dict()
    assert "_triggers" not in session.to_dict()


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


PASSWORD_STATES = {"choosing_password", "awaiting_password", "resetting"}
ENROLMENT_STATES = {"enrolling", "enrolling_authenticator", "enrolling_questions", "enrolled"}


def conditions(transition: dict[str, object]) -> list[object]:
    held = transition.get("conditions", [])
    return held if isinstance(held, list) else [held]


def sources(transition: dict[str, object]) -> set[object]:
    source = transition["source"]
    return set(source) if isinstance(source, list) else {source}


def test_every_way_into_the_password_step_is_for_a_reset_only() -> None:
    entries = [
        t for t in TRANSITIONS if t["dest"] in PASSWORD_STATES and not sources(t) <= PASSWORD_STATES
    ]
    assert entries
    assert all("for_reset" in conditions(t) for t in entries)


def test_every_way_into_registering_is_for_a_verified_registration_only() -> None:
    entries = [t for t in TRANSITIONS if t["dest"] in ENROLMENT_STATES]
    assert entries
    assert all("can_enrol" in conditions(t) for t in entries)


@pytest.mark.parametrize(
    ("state", "trigger"),
    [
        ("challenged", "verified"),
        ("choosing_password", "send_link"),
        ("choosing_password", "start_reset"),
        ("choosing_password", "start_unlock"),
        ("awaiting_password", "start_reset"),
    ],
)
def test_a_registering_session_never_reaches_the_password_step(state: str, trigger: str) -> None:
    machine = ResetMachine()
    session = session_in(state, purpose="register", passed=["email"], proven=["email"])
    with machine.attached(session):
        assert not getattr(session, trigger)()
        assert session.state == state


@pytest.mark.parametrize(
    ("state", "trigger"),
    [
        ("idle", "enrol"),
        ("challenged", "enrol"),
        ("enrolling", "add_authenticator"),
        ("enrolling", "add_questions"),
        ("enrolling", "finish_enrolment"),
        ("enrolling_authenticator", "enrol"),
        ("idle", "ask_to_reconfirm"),
    ],
)
def test_a_reset_session_never_registers(state: str, trigger: str) -> None:
    machine = ResetMachine()
    session = session_in(state, passed=["email"], proven=["email"])
    with machine.attached(session):
        assert not getattr(session, trigger)()
        assert session.state == state


def test_a_registration_is_verified_before_it_registers() -> None:
    machine = ResetMachine()
    session = session_in("challenged", purpose="register", required=1)
    with machine.attached(session):
        assert not session.enrol()
        session.passed.append("email")
        session.proven.append("email")
        assert session.enrol()
        assert session.add_authenticator()
        assert session.state == "enrolling_authenticator"
        assert session.enrol()
        assert session.finish_enrolment()
        assert session.state == "enrolled"


def test_an_account_without_methods_registers_with_nothing_proven() -> None:
    machine = ResetMachine()
    session = session_in("idle", purpose="register", required=0)
    with machine.attached(session):
        assert session.enrol()
        assert session.state == "enrolling"


def test_a_reconfirmation_checks_for_registering_only() -> None:
    machine = ResetMachine()
    session = session_in("idle", purpose="register", required=1)
    with machine.attached(session):
        assert session.ask_to_reconfirm()
        assert session.issue_challenge()
        session.passed.append("email")
        session.proven.append("email")
        assert not session.verified()
        assert session.enrol()


def test_a_reconfirmation_put_off_becomes_a_reset_with_nothing_proven() -> None:
    machine = ResetMachine()
    session = session_in("idle", purpose="register", required=1)
    with machine.attached(session):
        assert session.ask_to_reconfirm()
        assert not session.defer_reconfirmation()  # still registering
        session.purpose = "reset"
        session.proven.append("email")
        assert not session.defer_reconfirmation()
        session.proven.clear()
        assert session.defer_reconfirmation()
        assert session.state == "choosing_method"
