"""The command line: every command is listed, in data-flow order, with help and an example."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from recommender.cli import app

COMMANDS = ["validate", "generate", "features", "train", "tune", "recommend", "ui", "feedback",
            "serve",
            "refresh", "score"]


def test_commands_are_listed_in_data_flow_order():
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    positions = [result.output.find(f"│ {name} ") for name in COMMANDS]
    assert all(p >= 0 for p in positions), dict(zip(COMMANDS, positions, strict=True))
    assert positions == sorted(positions)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "Example" in result.output
    assert f"recommender {command}" in result.output


def test_module_entry_point_runs_the_same_app():
    done = subprocess.run([sys.executable, "-m", "recommender.cli", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "score" in done.stdout and "Usage" in done.stdout


@pytest.mark.parametrize("args", [["recommend", "--brand", "b1"], ["refresh"]])
def test_model_commands_elsewhere_name_the_store_and_create_none(tmp_path, args):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | {
        "COLUMNS": "300"}
    done = subprocess.run([sys.executable, "-m", "recommender.cli", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    text = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr
    db = tmp_path / "mlflow.db"
    assert f"no MLflow store at {db} (tracking URI sqlite:///{db})" in text
    assert "Traceback" not in text and list(tmp_path.iterdir()) == []


def test_version_is_printed():
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"recommender {version('recommender')}"


def test_readme_table_lists_every_command():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    listed = [name for name in COMMANDS if f"| `recommender {name}" in readme]
    assert listed == COMMANDS
