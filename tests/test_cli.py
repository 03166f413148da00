"""The command line: defaults come from the settings, and the exit codes mean one thing each
(0 done, 2 bad input, 1 internal error, 64 usage error)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from calmodel.cli import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_USAGE, main
from calmodel.core.options import SettingOption, field_default

from conftest import VENV_BIN, run

COMMANDS = sorted(main.commands)


def _shown(param: SettingOption, default) -> str:
    """How click's --help shows ``default`` for ``param``."""
    if isinstance(default, bool):
        return param.opts[0].lstrip("-") if default else param.secondary_opts[0].lstrip("-")
    if isinstance(default, tuple):
        return ", ".join(str(v) for v in default)
    return str(default)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_the_settings_defaults(name):
    command = main.commands[name]
    result = CliRunner().invoke(main, [name, "--help"], terminal_width=1000, max_content_width=1000)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for param in command.params:
        if not isinstance(param, SettingOption):
            continue
        default = field_default(param.settings_class, param.settings_field)
        if param.required:
            continue
        assert param.default == default, (name, param.name)
        if default not in (None, False, ""):
            assert f"[default: {_shown(param, default)}]" in text, (name, param.name, text)


def test_every_stage_command_takes_its_defaults_from_settings():
    """Commands whose stage has a settings record declare their options from it."""
    for name in ("build-model", "calibrate", "catalog", "characterize", "compare", "image",
                 "report", "simulate"):
        assert any(isinstance(p, SettingOption) for p in main.commands[name].params), name


@pytest.mark.parametrize("args", [
    ["catalog", "--image", "x.fits", "--out", "o", "--thresh-isl", "three"],  # BadParameter
    ["image", "--ms", "x.ms", "--field", "F", "--mode", "ql", "--out", "o", "--no-such-option"],
    ["characterize", "--out", "o"],  # missing --ms
    ["no-such-command"],
])
def test_usage_error_exits_64(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_USAGE == 64, result.output


def test_bad_input_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["catalog", "--image", str(tmp_path / "missing.fits"),
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == EXIT_BAD_INPUT == 2
    assert result.output.strip().splitlines() == [f"calmodel: error: image not found: {tmp_path / 'missing.fits'}"]


def test_internal_error_exits_1_with_one_line(tmp_path, monkeypatch):
    import calmodel.catalog.stage

    def broken(*args, **kwargs):
        raise RuntimeError("PyBDSF fell over\n  deep inside")

    monkeypatch.setattr(calmodel.catalog.stage, "make_catalog", broken)
    monkeypatch.delenv("CALMODEL_DEBUG", raising=False)
    args = ["catalog", "--image", str(tmp_path / "x.fits"), "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_INTERNAL == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("calmodel: error: catalog failed: PyBDSF fell over")
    monkeypatch.setenv("CALMODEL_DEBUG", "1")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)  # the traceback


def test_exit_codes_of_the_installed_command(tmp_path):
    calmodel = str(VENV_BIN / "calmodel")
    assert run([calmodel, "--help"]).returncode == 0
    proc = run([calmodel, "compare", "--model", "m.csv", "--nomodel", "n.csv", "--out", str(tmp_path),
                "--match-radius", "half"], check=False)
    assert proc.returncode == 64 and "Invalid value for '--match-radius'" in proc.stderr
    proc = run([calmodel, "compare", "--model", str(tmp_path / "m.csv"), "--nomodel",
                str(tmp_path / "n.csv"), "--out", str(tmp_path / "out")], check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("calmodel: error: catalogue not found")
