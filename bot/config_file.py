"""Reading the YAML file, and telling an admin exactly what is wrong with it."""

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.settings import Settings
from dialogs.settings import OverrideProblems


class ConfigError(Exception):
    """The file cannot be used; `problems` are `path: reason` lines, one per error."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_settings(path: Path | None) -> Settings:
    """The settings from `path`, or the embedded defaults when there is no file."""
    if path is None:
        return Settings()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError([f"{path}: cannot read ({error.strerror})"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError([f"{path}: {problem}{where}"]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(["(top level): must be a mapping of sections"])
    try:
        return Settings.model_validate(document)
    except ValidationError as error:
        raise ConfigError(describe(error)) from None


def describe(error: ValidationError) -> list[str]:
    lines: list[str] = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"]) or "(top level)"
        cause = detail.get("ctx", {}).get("error")
        if isinstance(cause, OverrideProblems):
            lines.extend(f"{where}.{problem}" for problem in cause.problems)
        else:
            lines.append(f"{where}: {_reason(detail)}")
    return lines


def _reason(detail: Any) -> str:
    if detail["type"] == "extra_forbidden":
        return "unknown setting"
    if detail["type"] == "value_error":
        return str(detail["ctx"]["error"])
    return str(detail["msg"])
