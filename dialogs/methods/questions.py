"""Security questions: a random subset asked one at a time, every answer must match.

Answers are checked against their argon2 hashes as they arrive and only the pass/fail mark
is kept, so no answer is ever stored. The verdict comes after the last question, so a wrong
answer is not pointed out. Never a first factor and never for admins (the dialog decides).
"""

import random

from adapters.directory import Account
from adapters.directory.answers import answer_matches
from adapters.hashing import hashing
from dialogs.methods.base import MethodKit, Result, Verdict
from dialogs.proofs import Proof
from dialogs.replies import Reply
from dialogs.session import Challenge, ResetSession

_RANDOM = random.SystemRandom()


class QuestionsMethod:
    name = "questions"

    def __init__(self, asked: int) -> None:
        self._asked = asked

    def available(self, account: Account) -> bool:
        return len(account.questions) >= self._asked

    def proofs(self, account: Account) -> tuple[Proof, ...]:
        return ("questions",) if self.available(account) else ()

    def label(self, account: Account, kit: MethodKit, session: ResetSession) -> str:
        return kit.catalog.text("label_questions", session.locale)

    async def start(
        self, session: ResetSession, account: Account | None, kit: MethodKit, *, blind: bool
    ) -> Reply:
        assert account is not None, "questions are never a blind first challenge"
        picked = _RANDOM.sample([q.id for q in account.questions], self._asked)
        session.challenge = Challenge(method=self.name, question_ids=picked)
        return self._ask(session, account, kit)

    async def check(
        self, session: ResetSession, account: Account | None, text: str, kit: MethodKit
    ) -> Verdict:
        challenge = session.challenge
        assert challenge is not None
        assert account is not None
        if not challenge.answers_ok:
            await kit.spend_attempt(session)
        question_id = challenge.question_ids[len(challenge.answers_ok)]
        question = next(q for q in account.questions if q.id == question_id)
        challenge.answers_ok.append(await hashing(answer_matches, question.answer_hash, text))
        if len(challenge.answers_ok) < len(challenge.question_ids):
            return Verdict(Result.PENDING, self._ask(session, account, kit))
        if all(challenge.answers_ok):
            await kit.refund_attempt(session)
            return Verdict(Result.PASSED)
        return Verdict(Result.FAILED, kit.say(session, "answers_wrong"))

    @staticmethod
    def _ask(session: ResetSession, account: Account, kit: MethodKit) -> Reply:
        challenge = session.challenge
        assert challenge is not None
        number = len(challenge.answers_ok) + 1
        question_id = challenge.question_ids[number - 1]
        text = next(q.text for q in account.questions if q.id == question_id)
        total = len(challenge.question_ids)
        return kit.say(session, "ask_question", number=number, total=total, question=text)
