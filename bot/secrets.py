"""The process environment as the bot reads it: once, when a command starts.

Secrets (`SSPR_SECRET_KEY`, `MicrosoftAppPassword`, `SLACK_SIGNING_SECRET`, a provider's
auth token...) and the few settings that live beside them come from environment variables,
as admins of Bot Framework and Slack apps expect. A command takes them into one `Secrets`
as it starts and hands that to what needs them, so no part of the bot reads the process
environment on its own, every part sees the same values for the life of the process, a
test gives the bot exactly the variables it means, and no value ever shows in a repr.
"""

import os
from collections.abc import Iterator, Mapping


class Secrets(Mapping[str, str]):
    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def from_environment(cls) -> "Secrets":
        return cls(os.environ)

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<Secrets: {len(self._values)} variables>"
