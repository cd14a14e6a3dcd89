"""Imports on demand: what a module or a command does not need, it does not load.

Timings are benchmarks (benchmarks/startup.py); these tests pin which modules load, which is
what decides them.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("openai", "alembic", "fastapi", "uvicorn", "mcp", "yaml", "nl2sql.agent")


def loaded_after(code: str) -> set[str]:
    """The top-level packages (and nl2sql modules) imported by `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    names = json.loads(done.stdout.strip().splitlines()[-1])
    return {name for name in names if "." not in name or name.startswith("nl2sql.")}


@pytest.mark.parametrize("module", ["nl2sql", "nl2sql.schema", "nl2sql.cli", "nl2sql.errors"])
def test_importing_loads_no_sdk_no_alembic_no_server(module: str) -> None:
    loaded = loaded_after(f"import {module}")
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_cli_module_does_not_load_sqlalchemy() -> None:
    assert "sqlalchemy" not in loaded_after("import nl2sql.cli")


def test_public_names_still_import_on_use() -> None:
    loaded = loaded_after("import nl2sql\nnl2sql.Agent\nnl2sql.TOOL")
    assert {"openai", "nl2sql.agent", "nl2sql.query"} <= loaded


def test_help_runs_without_the_library() -> None:
    probe = (
        "import sys\nsys.argv = ['nl2sql', '--help']\nfrom nl2sql.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('openai', 'sqlalchemy', 'alembic') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Commands:" in done.stdout and done.stdout.strip().endswith("[]")
