"""Where the repository's own files are, for tests wherever they sit under `tests/`."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config"
DEMO_DIRECTORY = CONFIG / "demo-directory.yaml"
EXAMPLE_CONFIG = CONFIG / "sspr.example.yaml"
