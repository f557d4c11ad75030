"""The deployment examples in config/examples are valid and show every setting of the
directory they configure, so an admin can copy one and fill it in."""

from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from adapters.directory.graph import GraphDirectorySettings
from adapters.directory.ldap import LdapDirectorySettings
from bot.config_file import load_settings

EXAMPLES = Path(__file__).resolve().parents[1] / "config" / "examples"
SECTIONS: dict[str, tuple[str, type[BaseModel]]] = {
    "entra-id.yaml": ("graph", GraphDirectorySettings),
    "active-directory.yaml": ("ldap", LdapDirectorySettings),
    "openldap.yaml": ("ldap", LdapDirectorySettings),
}


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_the_example_is_valid_and_shows_every_setting_of_its_directory(name: str) -> None:
    path = EXAMPLES / name
    settings = load_settings(path)
    kind, model = SECTIONS[name]
    assert settings.directory.kind == kind
    written = yaml.safe_load(path.read_text())["directory"][kind]
    assert set(written) == set(model.model_fields)


def test_every_example_is_checked() -> None:
    assert {path.name for path in EXAMPLES.glob("*.yaml")} == set(SECTIONS)
