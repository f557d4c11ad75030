"""The helpdesk's ticket systems: the tickets the bot updates after a hand-off and opens
when it cannot help, and the signature both directions of the webhook carry."""
