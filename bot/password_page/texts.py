"""The password page's own words around the dialog's (which come from the message catalog):
the show-password button and the next steps after a result, per locale."""

DEFAULT_LOCALE = "en"

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "show_password": "Show password",
        "next_heading": "What next",
        "next_sign_in": "Sign in again with your new password on each device you use, "
        "including your phone.",
        "next_close": "You can close this tab now.",
        "back_to_chat": "Back to the chat",
        "back_to_channel": "Go back to {channel} to continue.",
        "back_to_start": "Go back to the chat where you started.",
        "start_again_elsewhere": "Go back to Microsoft Teams or Slack and say 'reset' to "
        "get a new link.",
    },
    "de": {
        "show_password": "Passwort anzeigen",
        "next_heading": "Wie geht es weiter",
        "next_sign_in": "Melden Sie sich auf jedem Gerät, das Sie nutzen, mit dem neuen "
        "Passwort neu an, auch auf dem Telefon.",
        "next_close": "Sie können diesen Tab jetzt schließen.",
        "back_to_chat": "Zurück zum Chat",
        "back_to_channel": "Kehren Sie zu {channel} zurück, um weiterzumachen.",
        "back_to_start": "Kehren Sie zu dem Chat zurück, in dem Sie begonnen haben.",
        "start_again_elsewhere": "Kehren Sie zu Microsoft Teams oder Slack zurück und "
        "schreiben Sie 'reset', um einen neuen Link zu erhalten.",
    },
    "fr": {
        "show_password": "Afficher le mot de passe",
        "next_heading": "Et maintenant",
        "next_sign_in": "Reconnectez-vous avec votre nouveau mot de passe sur chaque "
        "appareil que vous utilisez, y compris votre téléphone.",
        "next_close": "Vous pouvez fermer cet onglet.",
        "back_to_chat": "Retour à la conversation",
        "back_to_channel": "Retournez dans {channel} pour continuer.",
        "back_to_start": "Retournez dans la conversation où vous avez commencé.",
        "start_again_elsewhere": "Retournez dans Microsoft Teams ou Slack et tapez « reset » "
        "pour obtenir un nouveau lien.",
    },
}


def text(key: str, locale: str, /, **values: str) -> str:
    """The page's text in `locale` (`de-AT` falls back to `de`, then English)."""
    wanted = locale.casefold().replace("_", "-")
    for candidate in (wanted, wanted.split("-")[0]):
        if key in TEXTS.get(candidate, {}):
            return TEXTS[candidate][key].format(**values)
    return TEXTS[DEFAULT_LOCALE][key].format(**values)
