"""The directory a test bot runs on, as the embedded one it is.

The runtime holds its directory behind the `Directory` protocol, which has no way to try a
password (the bot never needs one). A test that checks what a reset did asks the embedded
directory itself, and this says so once, failing clearly if the bot was wired to another.
"""

from adapters.directory.embedded import EmbeddedDirectory
from bot.runtime import Runtime


def embedded_directory(runtime: Runtime) -> EmbeddedDirectory:
    directory = runtime.directory
    assert isinstance(directory, EmbeddedDirectory), (
        f"the bot runs on {type(directory).__name__}, not the embedded directory"
    )
    return directory
