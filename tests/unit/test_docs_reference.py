"""docs/config-reference.md is generated from the JSON Schemas: a stale copy fails the suite."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GENERATOR = REPO / "tools" / "gen_config_reference.py"


def test_config_reference_is_up_to_date():
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (
        "docs/config-reference.md does not match the schemas; regenerate it with "
        f"`.venv/bin/python tools/gen_config_reference.py`.\n{result.stdout}{result.stderr}"
    )
