"""The certificate authorities a provider's TLS connections trust."""

import ssl
from pathlib import Path

from adapters.delivery.base import DeliveryUnavailable


def trusting(ca_file: str | None, base_dir: Path | None, provider: str) -> ssl.SSLContext:
    """The system's trusted CAs, plus `ca_file`'s (relative to `base_dir`); certificates and
    host names verified. DeliveryUnavailable names the file when it cannot be used."""
    context = ssl.create_default_context()
    if ca_file is None:
        return context
    path = Path(ca_file)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as error:
        raise DeliveryUnavailable(
            f"{provider} ca_file {path}: not a PEM certificate file ({error.reason})"
        ) from None
    except OSError as error:
        raise DeliveryUnavailable(
            f"{provider} ca_file {path}: cannot be read ({error.strerror})"
        ) from None
    return context
