"""What a message says before any step reads it: cleaned text, a command word, the
account a request names."""

import re
import unicodedata

MAX_MESSAGE = 1000
MAX_ACCOUNT_NAME = 256
# The words of each command, per language; the catalog's messages tell people these (Type
# 'abbrechen' to stop). All are accepted in every locale, since a channel's locale is not
# always the language a person writes in; no word means two commands (a test checks).
COMMAND_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "cancel": ("cancel", "stop", "quit", "exit"),
        "help": ("help", "?"),
        "agent": ("agent", "human", "helpdesk", "person"),
        "other": ("other",),
        "resend": ("resend",),
        "register": ("register", "set up", "setup", "enrol", "enroll"),
    },
    "de": {
        "cancel": ("abbrechen", "abbruch", "stopp", "beenden"),
        "help": ("hilfe",),
        "agent": ("helpdesk", "mensch", "mitarbeiter"),
        "other": ("anders", "andere", "andere methode"),
        "resend": ("neu", "nochmal", "noch mal", "erneut senden", "neu senden", "neuer code"),
        "register": ("registrieren", "einrichten"),
    },
    "fr": {
        "cancel": ("annuler", "arrêter", "arreter"),
        "help": ("aide",),
        "agent": ("agent", "conseiller", "humain"),
        "other": ("autre", "autre méthode", "autre methode"),
        "resend": ("renvoyer", "nouveau code", "renvoyer le code"),
        "register": ("enregistrer", "configurer"),
    },
    "es": {
        "cancel": ("cancelar", "parar", "salir"),
        "help": ("ayuda",),
        "agent": ("agente", "persona", "humano"),
        "other": ("otro", "otra", "otro método", "otro metodo"),
        "resend": ("reenviar", "nuevo código", "nuevo codigo", "otro código", "otro codigo"),
        "register": ("registrar", "configurar"),
    },
}
_COMMANDS = {
    word: name
    for commands in COMMAND_WORDS.values()
    for name, spoken in commands.items()
    for word in spoken
}
_OWN = {"my", "me", "mine", "password", "pw", "pwd"}
_RESET_TARGET = re.compile(
    r"^(?:please\s+)?reset\s+(?:the\s+)?(?:password\s+(?:for|of)\s+)?"
    r"(?P<name>[^\s']+?)(?:'s)?(?:\s+password)?[.!]?$"
)


def clean(text: str) -> str:
    """Drop control characters (a pasted NUL or escape must not reach a directory query)."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t").strip()


def command(text: str) -> str | None:
    """The command a whole message is ("stop", "quit" and "Abbrechen." are all "cancel"),
    if any; a full stop or an exclamation mark after the word is left out."""
    return _COMMANDS.get(text.casefold().rstrip(" .!"))


def requested_account(text: str) -> str | None:
    """The account named in "reset bob" / "reset password for bob", if any other than 'my'."""
    match = _RESET_TARGET.match(text.casefold())
    if not match or match.group("name") in _OWN:
        return None
    return match.group("name")
