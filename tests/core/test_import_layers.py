"""The import layers hold (contracts in pyproject.toml, checked by import-linter): the Kie client is plain
Python, the simulator imports nothing from the apps, and features sit on tenancy, tenancy on core."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_layer_contract_is_kept():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "0 broken" in report and report.count(" KEPT") == 3, report
