"""What the refsuite command tells people about itself: --help, defaults, exit codes, options given twice."""
import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from refsuite import cli, options
from refsuite.cli.exit_codes import MEANINGS, Exit

PACKAGE = Path(cli.__file__).resolve().parents[1]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _environment_variables_read() -> set[str]:
    return {name for path in PACKAGE.rglob("*.py") for name in re.findall(r"\bREFSUITE_[A-Z_]+\b", path.read_text())}


def test_help_lists_environment_variables_and_exit_codes_in_plain_text():
    done = subprocess.run([sys.executable, "-m", "refsuite", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "environment variables:" in text and "exit codes" in text
    for name in _environment_variables_read():
        assert name in text, f"refsuite --help does not name ${name}, which refsuite reads"
    for code in MEANINGS:
        assert re.search(rf"^  {int(code)} +\S", text, re.M), f"exit code {int(code)} is not listed"
    for command, sub in {"refsuite": cli.build_parser(), **_subcommands(cli.build_parser())}.items():
        assert "`" not in sub.format_help(), f"{command} --help shows markup"


def test_every_option_says_its_default():
    missing = []
    for command, sub in _subcommands(cli.build_parser()).items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            if (action.option_strings or action.nargs == "?") and not re.search(r"default|required", action.help or ""):
                missing.append(f"{command} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"help without a default: {missing}"


def _value(action: argparse.Action) -> str:
    if action.choices:
        return str(next(iter(action.choices)))
    return "0.5" if action.type is options.fraction else "1"


def test_every_option_that_takes_one_value_refuses_a_second(capsys):
    checked = 0
    for command, sub in _subcommands(cli.build_parser()).items():
        required = [a for a in sub._actions if a.required and a.option_strings]
        for action in sub._actions:
            if not isinstance(action, cli._Once):
                continue
            given = [action.option_strings[0], *[_value(action)] * (action.nargs if isinstance(action.nargs, int) else 1)]
            others = [x for a in required if a is not action for x in (a.option_strings[0], _value(a))]
            with pytest.raises(SystemExit) as stopped:
                cli.build_parser().parse_args([command, *others, *given, *given])
            assert stopped.value.code == Exit.USAGE
            assert f"argument {'/'.join(action.option_strings)}: given twice" in capsys.readouterr().err
            checked += 1
    assert checked >= 15  # every command's single-value options, not a vacuous pass


def test_an_option_given_once_still_parses():
    args = cli.build_parser().parse_args(["train", "--device", "cpu", "--epochs", "3"])
    assert args.device == "cpu" and args.epochs == 3
    # options that take several values still do
    assert cli.build_parser().parse_args(["run", "--device", "cpu", "--device", "meta"]).device == ["cpu", "meta"]


def test_help_starts_without_importing_torch_or_hypothesis():
    probe = ("import sys\nfrom refsuite import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
             "print('imported:', sorted(m for m in ('torch', 'hypothesis') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "imported: []" in done.stdout, done.stdout[-500:]
