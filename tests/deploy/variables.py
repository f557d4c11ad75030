"""The environment variables the bot reads, found in its source, so the deployment files
are checked against the code rather than against a list kept by hand.

Each module names the variables it reads in module-level constants (`*_VARIABLE`, or
`ENV_NAME` for the code key); Bot Framework's classic names are the keys of the
credentials module's table, and `MicrosoftAppType` is read beside them.
"""

import ast
from pathlib import Path

from bot.botframework.credentials import _CLASSIC
from tests.support.paths import ROOT

SOURCE_PACKAGES = ("bot", "adapters", "state", "dialogs")


def _constants(module: Path) -> set[str]:
    """The string values of the module's `*_VARIABLE` and `ENV_NAME` constants."""
    names: set[str] = set()
    for node in ast.parse(module.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name):
            continue
        if not (target.id.endswith("_VARIABLE") or target.id == "ENV_NAME"):
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            names.add(value.value)
    return names


def variables_the_bot_reads() -> set[str]:
    found = {"MicrosoftAppType", *_CLASSIC}
    for package in SOURCE_PACKAGES:
        for module in (ROOT / package).rglob("*.py"):
            found |= _constants(module)
    return found
