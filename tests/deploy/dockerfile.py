"""A Dockerfile read into its stages and instructions, as the builder reads them: comments
dropped, continued lines joined, JSON (exec form) arguments decoded."""

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The arguments of an exec-form instruction (`CMD ["a", "b"]`) as a list."""
        decoded = json.loads(self.arguments)
        assert isinstance(decoded, list), self
        return [str(item) for item in decoded]

    def words(self) -> list[str]:
        return shlex.split(self.arguments)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [each for each in self.instructions if each.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"no {keyword} in the stage from {self.base}"
        return found[-1]

    def environment(self) -> dict[str, str]:
        """ENV as set by the stage, in the `ENV NAME=value ...` form."""
        values: dict[str, str] = {}
        for each in self.all("ENV"):
            for word in each.words():
                name, _, value = word.partition("=")
                values[name] = value
        return values


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends on a continued line"
    return lines


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """The global ARGs (before the first FROM) and the stages in order."""
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text(encoding="utf-8")):
        keyword, _, rest = line.partition(" ")
        instruction = Instruction(keyword.upper(), rest.strip())
        if instruction.keyword == "FROM":
            words = instruction.words()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            name, _, default = rest.partition("=")
            arguments[name.strip()] = default.strip()
        else:
            raise AssertionError(f"{instruction.keyword} before the first FROM")
    return arguments, stages
