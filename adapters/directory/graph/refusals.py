"""What Microsoft Graph's refusals mean: a sentence for the person in the chat when a
password change is refused, DirectoryUnavailable naming the status and Graph's error code
(never its message, which may echo what was sent) for everything else."""

from adapters.directory.base import DirectoryUnavailable, PasswordRejected, ResetNotPermitted
from adapters.microsoft_graph import GraphError

POLICY_REASON = (
    "That password does not meet the directory's rules: use at least 8 characters with "
    "three of these four: upper case, lower case, digits and symbols, and avoid common "
    "words and your name."
)
HISTORY_REASON = "That password was used before on this account. Please choose a new one."
NOT_PERMITTED = (
    "The bot is not allowed to change the password of this account (administrators' "
    "passwords need a higher role); the helpdesk can."
)
ON_PREMISES = (
    "This account's password is kept in the on-premises Active Directory, which the bot "
    "does not change through Microsoft Graph; the helpdesk can."
)

_HISTORY_WORDS = ("history", "recently used", "used before", "previously used", "used recently")
_POLICY_WORDS = ("complexity", "password policy", "banned", "too weak", "not strong", "minimum")
_ON_PREMISES_WORDS = ("on-premises mastered", "directory sync", "federated")


def password_refusal(error: GraphError) -> Exception:
    """What a refused PATCH of passwordProfile means for the person in the chat. Graph's
    message is matched by words, not compared whole: its wording is not a contract."""
    message = error.message.casefold()
    if error.status == 400:
        if any(word in message for word in _ON_PREMISES_WORDS):
            return ResetNotPermitted(ON_PREMISES)
        if any(word in message for word in _HISTORY_WORDS):
            return PasswordRejected(HISTORY_REASON, kind="history")
        if "password" in message and any(word in message for word in _POLICY_WORDS):
            return PasswordRejected(POLICY_REASON, kind="policy")
    if error.status == 403:
        return ResetNotPermitted(NOT_PERMITTED)
    return unavailable(error, "set the password")


def unavailable(error: GraphError, doing: str) -> DirectoryUnavailable:
    hint = ""
    if error.status == 403:
        hint = " (the app lacks a permission or role; see the deployment guide)"
    elif error.status == 401:
        hint = " (the access token was refused)"
    return DirectoryUnavailable(
        f"Microsoft Graph refused to {doing}: {error.status} {error.code}{hint}"
    )
