"""config/sspr.example.yaml stays true to the code.

It loads, it is exactly the defaults, it names every setting of the schema (so a new setting
cannot be added without documenting it there), each setting has a comment, and it names the
environment variables that carry the secrets.
"""

from typing import Any

import pytest
import yaml
from pydantic import BaseModel, Field

from adapters.directory.at_rest import ENCRYPTION_KEY_VARIABLE
from bot import cli, keys
from bot.config_file import load_settings
from bot.settings import ServerSettings, Settings
from tests.support.paths import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG

KeyPath = tuple[str, ...]

# Sections whose keys are the admin's own (locales and message keys), not settings.
FREE_FORM: frozenset[KeyPath] = frozenset({("messages",)})

SECRET_VARIABLES = (
    "MicrosoftAppId",
    "MicrosoftAppPassword",
    "MicrosoftAppTenantId",
    "MicrosoftAppType",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID",
    "CLIENTSECRET",
    "TENANTID",
    keys.ENV_NAME,
    ENCRYPTION_KEY_VARIABLE,
)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` (and a lone `allOf` wrapper) to the definition it names."""
    while True:
        if "$ref" in node:
            name = node["$ref"].removeprefix("#/$defs/")
            node = schema["$defs"][name]
        elif len(node.get("allOf", [])) == 1:
            node = node["allOf"][0]
        else:
            return node


def schema_key_paths(schema: dict[str, Any], *, variants: bool = False) -> set[KeyPath]:
    """Every key path of the config file, sections and settings, from a JSON Schema.

    A setting that takes one of several shapes (a provider chosen by `kind`) is one path;
    with `variants`, the keys of each of its shapes are known paths too.
    """
    paths: set[KeyPath] = set()

    def walk(node: dict[str, Any], prefix: KeyPath) -> None:
        resolved = _resolve(schema, node)
        if variants:
            for member in resolved.get("oneOf", []) + resolved.get("anyOf", []):
                walk(member, prefix)
        for name, child in resolved.get("properties", {}).items():
            path = (*prefix, name)
            paths.add(path)
            if path not in FREE_FORM:
                walk(child, path)

    walk(schema, ())
    return paths


def document_key_paths(document: Any, prefix: KeyPath = ()) -> set[KeyPath]:
    paths: set[KeyPath] = set()
    if isinstance(document, dict):
        for name, value in document.items():
            path = (*prefix, str(name))
            paths.add(path)
            if path not in FREE_FORM:
                paths |= document_key_paths(value, path)
    return paths


def _example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def _example_document() -> Any:
    return yaml.safe_load(_example_text())


def test_the_example_validates() -> None:
    load_settings(EXAMPLE)


def test_config_check_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "check", str(EXAMPLE)]) == 0
    assert capsys.readouterr().out.strip().endswith(": OK")


def test_the_example_is_exactly_the_defaults() -> None:
    assert load_settings(EXAMPLE).model_dump() == Settings().model_dump()


def test_the_example_names_every_setting_of_the_schema() -> None:
    missing = schema_key_paths(Settings.model_json_schema()) - document_key_paths(
        _example_document()
    )
    assert not missing, "undocumented in config/sspr.example.yaml: " + ", ".join(
        ".".join(path) for path in sorted(missing)
    )


def test_the_example_names_nothing_the_schema_does_not_know() -> None:
    unknown = document_key_paths(_example_document()) - schema_key_paths(
        Settings.model_json_schema(), variants=True
    )
    assert not unknown


def test_the_check_notices_a_new_setting_at_any_depth() -> None:
    class NewServerSettings(ServerSettings):
        backlog: int = Field(128, description="A setting nobody documented yet.")

    class NewSettings(Settings):
        server: NewServerSettings = Field(default_factory=NewServerSettings)
        tracing: bool = False

    class Nested(BaseModel):
        inner: int = 1

    class NewerSettings(NewSettings):
        extras: Nested = Field(default_factory=Nested, description="with a description")

    documented = document_key_paths(_example_document())
    known = schema_key_paths(Settings.model_json_schema())
    missing = schema_key_paths(NewerSettings.model_json_schema()) - documented - known
    assert missing == {
        ("server", "backlog"),
        ("tracing",),
        ("extras",),
        ("extras", "inner"),
    }


def test_every_setting_has_a_comment() -> None:
    """Each setting's line, or its section's line, sits right under a comment."""
    text = _example_text()
    lines = text.splitlines()

    def commented(line: int) -> bool:
        return line > 0 and lines[line - 1].lstrip().startswith("#")

    bare: list[str] = []

    def walk(node: yaml.Node, prefix: KeyPath, parent_commented: bool) -> None:
        assert isinstance(node, yaml.MappingNode)
        for key, value in node.value:
            path = (*prefix, key.value)
            own = commented(key.start_mark.line)
            if isinstance(value, yaml.MappingNode) and path not in FREE_FORM:
                walk(value, path, own)
            elif not (own or parent_commented):
                bare.append(".".join(path))

    root = yaml.compose(text)
    assert root is not None, "the example config is empty"
    walk(root, (), False)
    assert not bare, "settings without a comment: " + ", ".join(bare)


def test_the_example_names_the_secret_environment_variables() -> None:
    text = _example_text()
    assert [name for name in SECRET_VARIABLES if name not in text] == []


def test_the_example_tells_editors_where_the_schema_is() -> None:
    first = _example_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    assert "sspr-bot config schema > sspr.schema.json" in _example_text()
