"""The pair-student entry point dispatches to each stage and explains itself."""

import subprocess
import sys

from pair_student.cli import COMMANDS, command, main


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
    out = subprocess.run([sys.executable, "-m", "pair_student", "models"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    for line in out.stdout.splitlines():
        assert line.startswith("/") and line.endswith("_model_traced.pt")


def test_every_command_resolves_to_a_function():
    for name in COMMANDS:
        assert callable(command(name)), name
