"""The directory a test bot runs on, as the embedded one it is.

The runtime holds its directory behind the `Directory` protocol, which has no way to try a
password (the bot never needs one). A test that checks what a reset did asks the embedded
directory itself, and this says so once, failing clearly if the bot was wired to another.
`demo_with` writes the demo directory with one account changed, for a bot to start on.
"""

from pathlib import Path
from typing import Any

import yaml

from adapters.directory.embedded import EmbeddedDirectory
from bot.runtime import Runtime
from tests.support.paths import DEMO_DIRECTORY


def embedded_directory(runtime: Runtime) -> EmbeddedDirectory:
    directory = runtime.directory
    assert isinstance(directory, EmbeddedDirectory), (
        f"the bot runs on {type(directory).__name__}, not the embedded directory"
    )
    return directory


def demo_with(data_dir: Path, username: str, **changes: Any) -> None:
    """The demo directory in `data_dir`, with `changes` made to one account."""
    document = yaml.safe_load(DEMO_DIRECTORY.read_text())
    for user in document["users"]:
        if user["username"] == username:
            user.update(changes)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "directory.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
