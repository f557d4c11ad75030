"""The key that turns one-time codes into hashes for the session store.

Several instances must share it (`SSPR_SECRET_KEY`); a single embedded instance keeps a
generated one in its data folder, readable only by its owner.
"""

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

ENV_NAME = "SSPR_SECRET_KEY"
MIN_LENGTH = 32


class SecretKeyInvalid(Exception):
    """The configured key is unusable."""


def code_key(environ: Mapping[str, str], data_dir: Path) -> bytes:
    configured = environ.get(ENV_NAME)
    if configured is not None:
        if len(configured) < MIN_LENGTH:
            raise SecretKeyInvalid(f"{ENV_NAME} must be at least {MIN_LENGTH} characters")
        return configured.encode()
    path = data_dir / "secret.key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
