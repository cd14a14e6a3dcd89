"""The README's set-up commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", quick_start)


def test_quick_start_has_exactly_two_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2
    assert all("\n" not in command for command in commands)


def test_ci_runs_the_readme_test_command() -> None:
    test_command = readme_commands()[1]
    assert test_command in (REPO / ".ci" / "run").read_text().splitlines()


def test_readme_main_command_works_offline_on_a_fresh_home(tmp_path: Path) -> None:
    import os
    import shlex
    import shutil
    import subprocess

    main_command = readme_commands()[0]
    ask = main_command.split("&& ")[-1]
    assert ask.startswith("nl2sql ask ")
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "OPENAI_API_KEY",
            "AZURE_OPENAI_ENDPOINT",
            "OPENAI_BASE_URL",
            "NL2SQL_DATABASE_URL",
            "NL2SQL_MODEL",
        )
    }
    env["XDG_DATA_HOME"] = str(tmp_path)
    executable = shutil.which("nl2sql")
    assert executable
    done = subprocess.run(
        [executable, *shlex.split(ask)[1:]], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Brazil" in done.stdout and "SELECT" in done.stdout
    assert (tmp_path / "nl2sql" / "orders.sqlite3").exists()
    assert "Created the sample orders database" in done.stderr


def test_help_lists_every_pinned_command() -> None:
    from typer.testing import CliRunner

    from nl2sql.cli import app

    result = CliRunner().invoke(app, ["--help"])
    for command in ("ask", "chat", "run", "schema", "db"):
        assert command in result.stdout
    db_help = CliRunner().invoke(app, ["db", "--help"]).stdout
    assert "init" in db_help and "generate" in db_help
