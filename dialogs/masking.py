"""Masked contact details: enough for the owner to recognise, too little to harvest."""

import re


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    if len(digits) < 4:
        return "***"
    international = number.lstrip().startswith("+") and len(digits) > 10
    prefix = f"+{digits[:-10]} " if international else ""
    return f"{prefix}*** *** {digits[-4:]}"
