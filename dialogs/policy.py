"""Who may reset, and with which methods: the admins' rules applied to one account.

Kept apart from the conversation so that each rule reads as the policy it is: Entra's
two-gate rule for admins, questions never a first factor, and two checks counting as two
only when they prove two different things (see dialogs.proofs).
"""

from adapters.directory import Account, Directory
from dialogs.methods import VerificationMethod
from dialogs.proofs import MethodName, Proof
from dialogs.session import ResetSession
from dialogs.settings import DialogSettings


class ResetPolicy:
    def __init__(
        self,
        settings: DialogSettings,
        directory: Directory,
        methods: dict[str, VerificationMethod],
    ) -> None:
        self._settings = settings
        self._directory = directory
        self._methods = methods

    async def eligible(self, account: Account) -> bool:
        """Enabled, not excluded, and inside the configured scope (nested groups count)."""
        access = self._settings.access
        excluded = {name.casefold() for name in access.excluded_users}
        if not account.enabled or account.username.casefold() in excluded:
            return False
        if access.mode == "none":
            return False
        if access.mode == "all":
            return True
        return await self._directory.in_any_group(account, access.groups)

    def required(self, account: Account) -> int:
        return 2 if self._two_gate(account) else self._settings.verification.required

    def can_complete(self, account: Account) -> bool:
        """Whether the account can prove enough different things to ever reach the
        password step (one phone is one proof, however many methods reach it), with one
        of them not the security questions."""
        proofs = {p for name in self._usable(account) for p in self._methods[name].proofs(account)}
        return len(proofs) >= self.required(account) and bool(proofs - {"questions"})

    def choices(self, session: ResetSession, account: Account) -> list[MethodName]:
        """Methods left to offer: ones that could be reached in this session and would
        prove something not proven yet, and questions only as a second factor."""
        return [
            name
            for name in self._usable(account)
            if self.proof(name, session, account) is not None
            and name not in session.unreachable
            and (session.proven or name != "questions")
        ]

    def proof(self, method: str, session: ResetSession, account: Account) -> Proof | None:
        """What passing `method` now would prove: its first proof not had yet."""
        proofs = self._methods[method].proofs(account)
        return next((proof for proof in proofs if proof not in session.proven), None)

    def blind_order(self) -> list[str]:
        """Methods for a typed account name before anything is verified, in admin order."""
        return [name for name in self._settings.verification.methods if name != "questions"]

    def _usable(self, account: Account) -> list[MethodName]:
        return [
            name
            for name in self._settings.verification.methods
            if self._methods[name].available(account)
            and not (self._two_gate(account) and name == "questions")
        ]

    def _two_gate(self, account: Account) -> bool:
        return account.is_admin and self._settings.verification.admin_two_gate
