"""Reading the YAML file, and telling an admin exactly what is wrong with it."""

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from bot.settings import Settings
from dialogs.proofs import MethodName, admin_shortfall, shortfall
from dialogs.settings import OverrideProblems, VerificationSettings


class ConfigError(Exception):
    """The file cannot be used; `problems` are `path: reason` lines, one per error."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# Methods a directory kind can never serve, and why: the directory holds nothing the bot
# could check them against (the embedded directory keeps both).
UNSERVED: dict[str, dict[MethodName, str]] = {
    "graph": {
        "authenticator": (
            "Microsoft Graph does not give out the secrets of authenticator apps registered "
            "in Entra ID, so the bot cannot check their codes"
        ),
        "questions": "Microsoft Graph does not give out Entra ID's security questions",
    },
    "ldap": {
        "authenticator": "the directory keeps no authenticator app enrolments",
        "questions": "the directory keeps no security questions",
    },
}


def load_settings(path: Path | None) -> Settings:
    """The settings from `path`, or the embedded defaults when there is no file."""
    if path is None:
        return Settings()
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ConfigError([f"{path}: cannot read ({error.strerror})"]) from None
    return settings_from(content, path)


def settings_from(content: bytes, path: Path) -> Settings:
    """The settings in `content`, the file at `path` as read once: whoever also keeps a
    digest of the file (a reload) validates exactly the bytes it digested."""
    try:
        document = yaml.safe_load(content.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text (byte {error.start})"]) from None
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
        settings = Settings.model_validate(document)
    except ValidationError as error:
        raise ConfigError([*describe(error), *_unservable(document)]) from None
    if problems := _unservable(document):
        raise ConfigError(problems)
    return settings


def config_warnings(settings: Settings) -> list[str]:
    """What works but is surely not meant: methods the directory cannot serve (nobody can
    pass them), and a policy under which no administrator can reset. `path: reason` lines."""
    kind = settings.directory.kind
    verification = settings.verification
    unserved = UNSERVED.get(kind, {})
    warnings = [
        f"verification.methods: {method} cannot work with directory kind {kind} "
        f"({unserved[method]}); nobody can pass it, so remove it"
        for method in verification.methods
        if method in unserved
    ]
    served = [method for method in verification.methods if method not in unserved]
    reason = admin_shortfall(served) if verification.admin_two_gate else None
    if reason is not None:
        warnings.append(f"verification.admin_two_gate: {reason}")
    return warnings


def _unservable(document: Mapping[str, Any]) -> list[str]:
    """A policy nobody can meet once the methods the directory cannot serve are left out.
    Read from the raw file, so it is reported together with any other error (and not at all
    while the verification section itself is wrong: its own errors come first)."""
    directory = document.get("directory")
    kind = directory.get("kind") if isinstance(directory, Mapping) else None
    if kind not in UNSERVED:
        return []
    try:
        verification = VerificationSettings.model_validate(document.get("verification") or {})
    except ValidationError:
        return []
    served = [method for method in verification.methods if method not in UNSERVED[kind]]
    if not any(method != "questions" for method in served):
        return [
            f"verification.methods: none of them can work with directory kind {kind}; "
            "add email, sms or voice"
        ]
    reason = shortfall(served, verification.required)
    return [f"verification.required: with directory kind {kind}, {reason}"] if reason else []


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
    loc: tuple[str | int, ...] = detail["loc"]
    if detail["type"] == "extra_forbidden":
        return "unknown setting" + _did_you_mean(loc)
    if detail["type"] == "value_error":
        return str(detail["ctx"]["error"])
    if detail["type"] in ("greater_than_equal", "less_than_equal"):
        return _bounds(loc) or str(detail["msg"])
    return str(detail["msg"])


def _did_you_mean(loc: Sequence[str | int]) -> str:
    model = _model_at(loc[:-1])
    if model is None:
        return ""
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _bounds(loc: Sequence[str | int]) -> str | None:
    """The allowed range of a number, as a sentence ("must be 1 or 2")."""
    model = _model_at(loc[:-1])
    field = model.model_fields.get(str(loc[-1])) if model else None
    if field is None:
        return None
    low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
    if low is None or high is None:
        return f"must be at least {low}" if high is None else f"must be at most {high}"
    if isinstance(low, int) and isinstance(high, int) and high == low + 1:
        return f"must be {low} or {high}"
    return f"must be between {low} and {high}"


def _model_at(path: Sequence[str | int]) -> type[BaseModel] | None:
    """The settings model a validation error's location points into (the provider named
    by a `kind` tag for a union of providers), or None where there is none."""
    model: type[BaseModel] = Settings
    parts = list(path)
    while parts:
        part = parts.pop(0)
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        candidates = _models_in(field)
        if len(candidates) > 1 and parts:
            tag = parts.pop(0)
            candidates = [c for c in candidates if tag in _kinds(c)]
        if len(candidates) != 1:
            return None
        model = candidates[0]
    return model


def _models_in(field: FieldInfo) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    pending: list[Any] = [field.annotation]
    while pending:
        annotation = pending.pop(0)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.append(annotation)
        elif get_origin(annotation) in (Union, UnionType, Annotated, list, dict):
            pending.extend(get_args(annotation))
    return found


def _kinds(model: type[BaseModel]) -> tuple[Any, ...]:
    kind = model.model_fields.get("kind")
    if kind is None or get_origin(kind.annotation) is not Literal:
        return ()
    return get_args(kind.annotation)
