"""`sspr-bot config graph`: the conversation state machine as Mermaid, DOT or a drawing."""

import argparse
import shutil
import subprocess
from pathlib import Path

from bot.commands.errors import OperatorError

MERMAID = ".mmd"
DOT_SOURCE = (".dot", ".gv")
DRAWN = (".svg", ".png")  # by Graphviz's `dot`
DOT_WAIT = 60.0  # seconds: `dot` lays out this graph in well under one


def draw_graph(args: argparse.Namespace) -> int:
    output: Path = args.output
    suffix = output.suffix.lower()
    if suffix == MERMAID:
        from dialogs.machine import mermaid_diagram

        content = (mermaid_diagram() + "\n").encode()
    elif suffix in DOT_SOURCE:
        content = _dot_source().encode()
    elif suffix in DRAWN:
        content = _drawn(output, suffix.removeprefix("."))
    else:
        endings = ", ".join([MERMAID, *DOT_SOURCE, *DRAWN])
        raise OperatorError(f"config graph --output {output}: the file must end with {endings}")
    output.write_bytes(content)
    print(f"wrote {output}")
    return 0


def _drawn(output: Path, image: str) -> bytes:
    """The machine drawn by Graphviz's `dot` as `image` (svg, png)."""
    dot = shutil.which("dot")
    if dot is None:
        raise OperatorError(
            f"config graph --output {output}: drawing {image.upper()} needs Graphviz's dot "
            f"(apt install graphviz); a .mmd or .dot file needs nothing"
        )
    drawn = subprocess.run(  # noqa: S603 (dot from PATH, our own graph on stdin)
        [dot, f"-T{image}"],
        input=_dot_source().encode(),
        capture_output=True,
        timeout=DOT_WAIT,
        check=False,
    )
    if drawn.returncode != 0:
        reason = drawn.stderr.decode(errors="replace").strip().splitlines()[:1]
        raise OperatorError(f"config graph: Graphviz's dot failed: {' '.join(reason)}")
    return drawn.stdout


def _dot_source() -> str:
    """The conversation machine in Graphviz's DOT language: the states and transitions of
    the Mermaid diagram, each edge labelled with its triggers and their conditions."""
    from dialogs.machine import DIAGRAM_TITLE, ENDS, MACHINE_OPTIONS

    edges: dict[tuple[str, str], list[str]] = {}
    for transition in MACHINE_OPTIONS["transitions"]:
        sources = transition["source"]
        conditions = transition.get("conditions")
        label = transition["trigger"]
        if conditions:
            listed = [conditions] if isinstance(conditions, str) else conditions
            label += f" [{', '.join(listed)}]"
        for source in [sources] if isinstance(sources, str) else sources:
            edges.setdefault((source, transition["dest"]), []).append(label)
    lines = [
        "digraph conversation {",
        f"  label={_dot_text(DIAGRAM_TITLE)}; labelloc=t; rankdir=LR;",
        "  node [shape=box, style=rounded];",
        '  start [shape=point, label=""];',
        f"  start -> {_dot_text(MACHINE_OPTIONS['initial'])};",
    ]
    for state in MACHINE_OPTIONS["states"]:
        ending = " peripheries=2" if state in ENDS else ""
        lines.append(f"  {_dot_text(state)} [label={_dot_text(state)}{ending}];")
    for (source, dest), labels in edges.items():
        label = "\\n".join(_dot_text(text)[1:-1] for text in labels)
        lines.append(f'  {_dot_text(source)} -> {_dot_text(dest)} [label="{label}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    """`text` as a quoted DOT string."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
