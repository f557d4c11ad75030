"""The certificate authorities an outbound TLS connection trusts: a carrier's, a ticket
system's."""

import ssl
from pathlib import Path


class CaFileUnusable(Exception):
    """`ca_file` cannot be used; the message names the file and why, never its content."""


def trusting(ca_file: str | None, base_dir: Path | None, what: str) -> ssl.SSLContext:
    """The system's trusted CAs, plus `ca_file`'s (relative to `base_dir`); certificates and
    host names verified. CaFileUnusable, naming `what` and the file, when it cannot be used:
    each caller raises it again as its own configuration error."""
    context = ssl.create_default_context()
    if ca_file is None:
        return context
    path = Path(ca_file)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as error:
        raise CaFileUnusable(
            f"{what} ca_file {path}: not a PEM certificate file ({error.reason})"
        ) from None
    except OSError as error:
        raise CaFileUnusable(f"{what} ca_file {path}: cannot be read ({error.strerror})") from None
    return context
