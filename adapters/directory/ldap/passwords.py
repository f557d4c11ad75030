"""Setting passwords over LDAP: the AD value encoding, and the directory's refusals mapped
to what the conversation can tell the user.

OpenLDAP's ppolicy overlay says why it refused in the Password Policy response control
(draft-behera-ldap-password-policy; requested with every change): an error number, with
the result text as a fallback when a server sends no control. Active Directory answers a
policy refusal with constraintViolation and the Windows error 0000052D in the text, which
does not tell complexity, length and history apart (Samba's text does say "history").

The reasons are our own sentences: a server's text is never passed on (ppolicy checking
modules put the DN in theirs).
"""

from collections.abc import Mapping
from typing import Any

from adapters.directory.base import DirectoryUnavailable, PasswordRejected, ResetNotPermitted

PPOLICY_OID = "1.3.6.1.4.1.42.2.27.8.5.1"
# (oid, criticality, value): asks ppolicy to explain a refusal.
PPOLICY_REQUEST = (PPOLICY_OID, False, None)
# OpenLDAP's Relax Rules control: lets an entry with `manage` access change attributes
# users may not (ppolicy's pwdFailureTime).
RELAX_RULES = ("1.3.6.1.4.1.4203.666.5.12", True, None)

UNENCRYPTED_REFUSAL = (
    "Active Directory takes a new password only over an encrypted connection, so none was "
    "sent: use ldaps:// URLs or start_tls: true, with ca_file naming the CA that signed "
    "the domain controllers' certificates"
)

TOO_SHORT = "It is too short for the directory's password rules."
TOO_WEAK = "It does not meet the directory's password rules."
AD_POLICY = (
    "It does not meet the directory's password rules (length, complexity, or a password "
    "used before)."
)
USED_BEFORE = "It was used before."
SAME = "It is the current password."
TOO_SOON = "The password was changed too recently to change it again yet."

SUCCESS = 0
CONSTRAINT_VIOLATION = 19
NO_SUCH_OBJECT = 32
INSUFFICIENT_ACCESS = 50
UNWILLING_TO_PERFORM = 53

# ppolicy's PasswordPolicyResponseValue error numbers.
PP_PASSWORD_MOD_NOT_ALLOWED = 3
PP_MUST_SUPPLY_OLD_PASSWORD = 4
PP_INSUFFICIENT_QUALITY = 5
PP_TOO_SHORT = 6
PP_TOO_YOUNG = 7
PP_IN_HISTORY = 8

# ppolicy's own texts (servers/slapd/overlays/ppolicy.c), for servers that send no control.
_UNCHANGED_TEXT = "not being changed from existing value"


def unicode_pwd(password: str) -> bytes:
    """The `unicodePwd` value AD expects: the password in double quotes, UTF-16LE."""
    return f'"{password}"'.encode("utf-16-le")


def ppolicy_error(controls: Mapping[str, Any] | None) -> int | None:
    """The error number in a Password Policy response control, if one came with it."""
    control = (controls or {}).get(PPOLICY_OID)
    value = control.get("value") if isinstance(control, Mapping) else None
    if not isinstance(value, bytes | bytearray):
        return None
    return _policy_error(bytes(value))


def _policy_error(value: bytes) -> int | None:
    """Decode `SEQUENCE { warning [0] ... OPTIONAL, error [1] ENUMERATED OPTIONAL }`."""
    tag, content, _ = _tlv(value, 0)
    if tag != 0x30:
        return None
    position = 0
    while position < len(content):
        tag, element, position = _tlv(content, position)
        if tag == 0x81 and element:
            return int.from_bytes(element, "big")
    return None


def _tlv(data: bytes, position: int) -> tuple[int, bytes, int]:
    """One BER element at `position`: (tag, contents, position after it)."""
    if position + 2 > len(data):
        return -1, b"", len(data)
    tag, length = data[position], data[position + 1]
    position += 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(data[position : position + size], "big")
        position += size
    end = min(position + length, len(data))
    return tag, data[position:end], end


def check_openldap_result(result: Mapping[str, Any], url: str) -> None:
    """Raise what a refused OpenLDAP password change means; return on success."""
    code = result.get("result")
    if code == SUCCESS:
        return
    text = str(result.get("message") or "")
    error = ppolicy_error(result.get("controls"))
    if error is None:
        error = _error_from_text(text)
    if error == PP_TOO_SHORT:
        raise PasswordRejected(TOO_SHORT, kind="policy")
    if error == PP_INSUFFICIENT_QUALITY:
        raise PasswordRejected(TOO_WEAK, kind="policy")
    if error == PP_IN_HISTORY:
        if _UNCHANGED_TEXT in text.casefold():
            raise PasswordRejected(SAME, kind="same")
        raise PasswordRejected(USED_BEFORE, kind="history")
    if error == PP_TOO_YOUNG:
        raise PasswordRejected(TOO_SOON, kind="too_soon")
    if error == PP_MUST_SUPPLY_OLD_PASSWORD:
        raise DirectoryUnavailable(
            f"{url}: the password policy demands the old password (pwdSafeModify), so an "
            "administrative reset is impossible"
        )
    if code == INSUFFICIENT_ACCESS or error == PP_PASSWORD_MOD_NOT_ALLOWED:
        raise ResetNotPermitted("the bind DN may not change this account's password")
    if code == CONSTRAINT_VIOLATION:
        raise PasswordRejected(TOO_WEAK, kind="policy")
    raise DirectoryUnavailable(f"{url}: the change was refused ({result.get('description')})")


def _error_from_text(text: str) -> int | None:
    folded = text.casefold()
    if "history" in folded or _UNCHANGED_TEXT in folded:
        return PP_IN_HISTORY
    if "too young" in folded:
        return PP_TOO_YOUNG
    if "too short" in folded:
        return PP_TOO_SHORT
    if "quality" in folded:
        return PP_INSUFFICIENT_QUALITY
    return None


def check_ad_result(result: Mapping[str, Any], url: str) -> None:
    """Raise what a refused Active Directory change means; return on success."""
    code = result.get("result")
    if code == SUCCESS:
        return
    text = str(result.get("message") or "")
    windows_error = text[:8].upper()
    if windows_error == "0000052D" or code == CONSTRAINT_VIOLATION:
        if "history" in text.casefold():
            raise PasswordRejected(USED_BEFORE, kind="history")
        raise PasswordRejected(AD_POLICY, kind="policy")
    if code == INSUFFICIENT_ACCESS:
        raise ResetNotPermitted("the bind account may not change this account")
    if code == UNWILLING_TO_PERFORM and windows_error == "0000001F":
        raise DirectoryUnavailable(f"{url}: {UNENCRYPTED_REFUSAL}")
    reason = f"{result.get('description')}, {windows_error}" if text else result.get("description")
    raise DirectoryUnavailable(f"{url}: the change was refused ({reason})")
