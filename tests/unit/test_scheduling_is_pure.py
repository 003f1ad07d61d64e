"""booking/scheduling imports the standard library only: no Flask, no SQLAlchemy, no app.

Two independent proofs. A fresh interpreter imports the package *without* running
``booking/__init__.py`` (which builds the Flask app) and lists what got loaded; and every
module's import statements, found in its syntax tree, must name the standard library or the
package itself. Each proof is also shown to fail on an impure example.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "booking" / "scheduling"
FORBIDDEN = ("flask", "sqlalchemy", "flask_sqlalchemy")

# Registers a bare ``booking`` namespace whose only path is the source folder, so importing
# ``booking.scheduling`` finds the subpackage but never executes ``booking/__init__.py``.
IMPORT_ALONE = """
import sys, types
{preload}
parent = types.ModuleType("booking")
parent.__path__ = [{booking_dir!r}]
sys.modules["booking"] = parent
import booking.scheduling
assert booking.scheduling.__file__.startswith({booking_dir!r}), booking.scheduling.__file__
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})
assert not loaded, loaded
"""


def import_alone(preload: str = "") -> subprocess.CompletedProcess[str]:
    """Run the import check in a fresh interpreter, after ``preload`` code."""
    code = IMPORT_ALONE.format(
        preload=preload, booking_dir=str(ROOT / "booking"), forbidden=FORBIDDEN
    )
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_importing_scheduling_loads_no_framework():
    result = import_alone()
    assert result.returncode == 0, result.stderr


def test_the_import_check_can_fail():
    result = import_alone(preload="import sqlalchemy")
    assert result.returncode != 0
    assert "sqlalchemy" in result.stderr


def outside_imports(source: str) -> set[str]:
    """Top-level names a module imports that are neither standard library nor relative."""
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return {
        name
        for name in names
        if name.split(".")[0] not in allowed and not name.startswith("booking.scheduling")
    }


MODULES = sorted(PACKAGE.glob("*.py"))


def test_the_package_has_its_modules():
    assert {"availability.py", "checks.py", "clock.py", "intervals.py", "series.py"} <= {
        m.name for m in MODULES
    }


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_every_module_imports_only_the_standard_library(module):
    assert outside_imports(module.read_text(encoding="utf-8")) == set()


def test_the_syntax_check_can_fail():
    source = "import json\ndef f():\n    from flask import g\n    import booking.models\n"
    assert outside_imports(source) == {"flask", "booking.models"}
