"""What people type at a menu, and what they type to start again.

A menu takes a choice's number, its name, its label as shown, or the words people use for
it ("text me", "phone call", "e-mail", "code from my app"), whatever the case and the
punctuation, in any of the catalog's languages ("Anruf", "appel", "llamada", "correo"),
since a client's locale is not always the language a person types in. A word that names
one way only ("text", "call", "app") decides; "phone" alone means a call, but only when
nothing else in the message names a way.
"""

import re
from collections.abc import Mapping, Sequence

# Words that name one choice. "phone" and "message" are weak: they decide only alone.
_WORDS: dict[str, str] = {
    "sms": "sms",
    "text": "sms",
    "texts": "sms",
    "txt": "sms",
    "texting": "sms",
    "voice": "voice",
    "call": "voice",
    "calls": "voice",
    "ring": "voice",
    "email": "email",
    "mail": "email",
    "emails": "email",
    "app": "authenticator",
    "authenticator": "authenticator",
    "totp": "authenticator",
    "question": "questions",
    "questions": "questions",
    "security": "questions",
    "unlock": "unlock",
    "keep": "unlock",
    "reset": "reset",
    "new": "reset",
    # German
    "anruf": "voice",
    "anrufen": "voice",
    "frage": "questions",
    "fragen": "questions",
    "sicherheitsfrage": "questions",
    "sicherheitsfragen": "questions",
    "entsperren": "unlock",
    "zurücksetzen": "reset",
    # French
    "texto": "sms",
    "appel": "voice",
    "appeler": "voice",
    "courriel": "email",
    "application": "authenticator",
    "sécurité": "questions",
    "déverrouiller": "unlock",
    "débloquer": "unlock",
    "réinitialiser": "reset",
    # Spanish
    "llamada": "voice",
    "llamar": "voice",
    "correo": "email",
    "aplicación": "authenticator",
    "pregunta": "questions",
    "preguntas": "questions",
    "seguridad": "questions",
    "desbloquear": "unlock",
    "restablecer": "reset",
}
_WEAK: dict[str, str] = {
    "phone": "voice",
    "message": "sms",
    "telefon": "voice",
    "nachricht": "sms",
    "téléphone": "voice",
    "teléfono": "voice",
    "mensaje": "sms",
}
_NUMBERED = re.compile(r"^(?:(?:option|number|no|nr|choice)\s*)?(\d{1,2})(?:st|nd|rd|th)?$")


def words(text: str) -> list[str]:
    """The text's words, lower case, punctuation dropped ("E-Mail!" -> ["e", "mail"])."""
    return re.findall(r"[^\W_]+", text.casefold())


# What starts a reset again after one has finished. Leading courtesy words are skipped:
# "please reset", "I forgot my password", "can you help me reset it".
_COURTESY = frozenset(
    words(
        "please pls hi hello hey ok okay so and then just also now again still "
        "i m ve d need want would like to can could you u help me have am "
        "bitte hallo ich habe hab mein meine möchte kann passwort kennwort "
        "bonjour salut je j ai mon ma s il vous plaît veux "
        "hola por favor quiero mi he puedes contraseña"
    )
)
_STARTERS = frozenset(
    words(
        "reset restart start begin unlock locked forgot forgotten forget lost change "
        "zurücksetzen vergessen entsperren gesperrt "
        "réinitialiser oublié débloquer bloqué "
        "restablecer olvidé olvide olvidado desbloquear bloqueado"
    )
)


def pick(text: str, offered: Sequence[str], labels: Mapping[str, str]) -> str | None:
    """The offered choice `text` names (by number, label or words), or None when it names
    none or more than one."""
    said = words(text)
    if not said:
        return None
    numbered = _NUMBERED.match(" ".join(said))
    if numbered:
        number = int(numbered.group(1))
        return offered[number - 1] if 1 <= number <= len(offered) else None
    for choice in offered:
        if said == words(labels.get(choice, "")) or said == words(choice):
            return choice
    named = {_WORDS[word] for word in said if word in _WORDS}
    if not named:
        named = {_WEAK[word] for word in said if word in _WEAK}
    if len(named) != 1:
        return None
    [choice] = named
    return choice if choice in offered else None


def asks_to_start(text: str) -> bool:
    """Whether a message asks for a (new) reset: "reset", "start over", "I forgot my
    password", "reset my password please"; not "thanks" or "did it work?"."""
    said = words(text)
    while said and said[0] in _COURTESY:
        said.pop(0)
    if not said:
        return False
    return said[0] in _STARTERS or said[:2] in (["new", "password"], ["new", "reset"])
