"""The page's own words per locale (the dialog's replies come from the message catalog),
and the choice of locale from the browser's Accept-Language."""

import re
from collections.abc import Collection

DEFAULT_LOCALE = "en"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Password reset",
        "heading": "Reset your password",
        "intro": "Press the button or type 'reset' to begin. Never share a code or password "
        "with anyone.",
        "start": "Reset my password",
        "resend": "Send another code",
        "other": "Try another way",
        "quick": "While you wait for the code",
        "transcript": "Conversation",
        "label": "Your message",
        "send": "Send",
        "you": "You:",
        "assistant": "Assistant:",
        "choices": "Options",
        "sensitive_note": "Copy this now: it is shown only once and is gone when you leave this "
        "page.",
        "link_note": "Opens in a new tab.",
        "captcha_prompt": "Please complete the check below, then send your message.",
        "noscript": "This page needs JavaScript to talk to the password assistant.",
        "network": "The message could not be sent. Please check your connection and try again.",
        "rate_limited": "You've sent a lot of messages in a short time. Please wait a minute "
        "and try again.",
        "captcha_required": "Please complete the check on the page first, then send your "
        "message again.",
        "captcha_failed": "The check didn't work. Please complete it again, then send your "
        "message.",
        "captcha_unavailable": "The check can't be verified right now. Please try again in a "
        "few minutes.",
        "forbidden": "This request was refused. Please reload the page and try again.",
        "too_large": "That message is too long. Please send something shorter.",
        "malformed": "That message could not be read. Please reload the page and try again.",
        "busy": "Your previous message is still being answered. Please wait a moment, then "
        "send this one again.",
    },
    "de": {
        "title": "Passwort zurücksetzen",
        "heading": "Passwort zurücksetzen",
        "intro": "Tippen Sie auf den Knopf oder schreiben Sie 'reset', um zu beginnen. Geben "
        "Sie Codes und Passwörter niemals weiter.",
        "start": "Mein Passwort zurücksetzen",
        "resend": "Neuen Code senden",
        "other": "Anders bestätigen",
        "quick": "Während Sie auf den Code warten",
        "transcript": "Unterhaltung",
        "label": "Ihre Nachricht",
        "send": "Senden",
        "you": "Sie:",
        "assistant": "Assistent:",
        "choices": "Auswahl",
        "sensitive_note": "Kopieren Sie das jetzt: Es wird nur einmal angezeigt und ist weg, "
        "sobald Sie die Seite verlassen.",
        "link_note": "Öffnet sich in einem neuen Tab.",
        "captcha_prompt": "Bitte lösen Sie die Prüfung unten und senden Sie dann Ihre Nachricht.",
        "noscript": "Diese Seite braucht JavaScript für den Passwort-Assistenten.",
        "network": "Die Nachricht konnte nicht gesendet werden. Bitte prüfen Sie Ihre "
        "Verbindung und versuchen Sie es erneut.",
        "rate_limited": "Sie haben in kurzer Zeit sehr viele Nachrichten gesendet. Bitte "
        "warten Sie eine Minute.",
        "captcha_required": "Bitte lösen Sie zuerst die Prüfung auf der Seite und senden Sie "
        "die Nachricht erneut.",
        "captcha_failed": "Die Prüfung hat nicht geklappt. Bitte lösen Sie sie erneut.",
        "captcha_unavailable": "Die Prüfung kann gerade nicht bestätigt werden. Bitte "
        "versuchen Sie es in ein paar Minuten erneut.",
        "forbidden": "Diese Anfrage wurde abgelehnt. Bitte laden Sie die Seite neu.",
        "too_large": "Diese Nachricht ist zu lang. Bitte senden Sie etwas Kürzeres.",
        "malformed": "Diese Nachricht war nicht lesbar. Bitte laden Sie die Seite neu.",
        "busy": "Ihre vorige Nachricht wird noch beantwortet. Bitte warten Sie einen Moment "
        "und senden Sie diese dann erneut.",
    },
    "fr": {
        "title": "Réinitialisation du mot de passe",
        "heading": "Réinitialiser votre mot de passe",
        "intro": "Appuyez sur le bouton ou tapez « reset » pour commencer. Ne communiquez "
        "jamais un code ou un mot de passe.",
        "start": "Réinitialiser mon mot de passe",
        "resend": "Envoyer un nouveau code",
        "other": "Essayer autrement",
        "quick": "En attendant le code",
        "transcript": "Conversation",
        "label": "Votre message",
        "send": "Envoyer",
        "you": "Vous :",
        "assistant": "Assistant :",
        "choices": "Options",
        "sensitive_note": "Copiez-le maintenant : il n'est affiché qu'une fois et disparaît "
        "quand vous quittez la page.",
        "link_note": "S'ouvre dans un nouvel onglet.",
        "captcha_prompt": "Veuillez compléter la vérification ci-dessous, puis envoyer votre "
        "message.",
        "noscript": "Cette page a besoin de JavaScript pour parler à l'assistant.",
        "network": "Le message n'a pas pu être envoyé. Vérifiez votre connexion et réessayez.",
        "rate_limited": "Vous avez envoyé beaucoup de messages en peu de temps. Veuillez "
        "patienter une minute.",
        "captcha_required": "Veuillez d'abord compléter la vérification, puis renvoyer votre "
        "message.",
        "captcha_failed": "La vérification a échoué. Veuillez la compléter à nouveau.",
        "captcha_unavailable": "La vérification est momentanément impossible. Réessayez dans "
        "quelques minutes.",
        "forbidden": "Cette requête a été refusée. Veuillez recharger la page.",
        "too_large": "Ce message est trop long. Veuillez envoyer quelque chose de plus court.",
        "malformed": "Ce message est illisible. Veuillez recharger la page.",
        "busy": "Votre message précédent est encore en cours de traitement. Patientez un "
        "instant, puis renvoyez celui-ci.",
    },
}

_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
MAX_LANGUAGES = 20


def text(key: str, locale: str) -> str:
    """The page's text in `locale` (`de-AT` falls back to `de`, then English)."""
    for candidate in (locale, locale.split("-")[0]):
        if key in TEXTS.get(candidate, {}):
            return TEXTS[candidate][key]
    return TEXTS[DEFAULT_LOCALE][key]


def best_locale(accept_language: str | None, available: Collection[str]) -> str:
    """The browser's most preferred locale that something here speaks: the page's own texts
    or the dialog's configured message locales (`available`, lower case). The full tag is
    kept when it is known (`de-at`), else its language (`de`); English when none fits."""
    known = {DEFAULT_LOCALE, *TEXTS, *(locale.casefold() for locale in available)}
    for tag in _preferences(accept_language or ""):
        if tag in known:
            return tag
        if tag.split("-")[0] in known:
            return tag.split("-")[0]
    return DEFAULT_LOCALE


def _preferences(header: str) -> list[str]:
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:MAX_LANGUAGES]):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip().casefold().replace("_", "-")
        if not _TAG.match(tag):
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if weight > 0:
            weighted.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(weighted)]
