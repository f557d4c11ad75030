"""A Lua script as Redis names it: by the SHA-1 of its source, which EVALSHA sends instead
of the source."""

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LuaScript:
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha1(self.source.encode()).hexdigest()  # noqa: S324 - Redis's name for it
        object.__setattr__(self, "sha", digest)
