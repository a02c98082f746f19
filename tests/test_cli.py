"""The pair-student entry point dispatches to each stage and explains itself."""

import subprocess
import sys
from pathlib import Path

from pair_student.cli import COMMANDS, command, main
from pair_student.registry import DEMO_NAMES, SIZES


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name}" in out
    # one command for every stage a user drives (teachers have none: they are chosen by name)
    for stage_command in ("sample", "label", "train", "export", "models", "lmp", "analyze", "validate", "distill"):
        assert f"  {stage_command} " in out


def test_unknown_command_is_an_error(capsys):
    assert main(["distil"]) == 2
    assert "unknown command 'distil'" in capsys.readouterr().err


def test_console_script_and_module_entry_points():
    script = Path(sys.executable).parent / "pair-student"  # installed next to the interpreter
    assert script.is_file(), f"no console script at {script}: pip install -e . first"
    shipped = len(DEMO_NAMES) * len(SIZES)  # one student per demo system and size (9)
    for cmd in ([sys.executable, "-m", "pair_student", "models"], [str(script), "models"]):
        out = subprocess.run(cmd, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert len(lines) == len(set(lines)) == shipped, (cmd, lines)
        for line in lines:
            assert line.startswith("/") and line.endswith("_model_traced.pt")
            assert Path(line).is_file()


def test_every_command_resolves_to_a_function():
    for name in COMMANDS:
        assert callable(command(name)), name
