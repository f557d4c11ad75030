"""The certificate authorities a carrier's TLS connections trust (`adapters.trust`), a file
that cannot be used reported as the delivery's own configuration error."""

import ssl
from pathlib import Path

from adapters.delivery.base import DeliveryUnavailable
from adapters.trust import CaFileUnusable
from adapters.trust import trusting as trusting_ca_file


def trusting(ca_file: str | None, base_dir: Path | None, provider: str) -> ssl.SSLContext:
    try:
        return trusting_ca_file(ca_file, base_dir, provider)
    except CaFileUnusable as unusable:
        raise DeliveryUnavailable(str(unusable)) from None
