"""The Nextflow layer: CLI options used in modules exist, the graph runs as a stub, and the
code stays within Nextflow's strict syntax rules that current releases enforce."""

from __future__ import annotations

import re

import pytest

from calmodel.cli import main as cli
from conftest import REPO, run

MODULES = sorted((REPO / "modules").glob("*.nf"))


def _script_blocks(text: str) -> list[str]:
    return re.findall(r'script:.*?"""(.*?)"""', text, re.S)


def test_every_module_option_exists_in_the_click_command():
    seen = 0
    for module in MODULES:
        for block in _script_blocks(module.read_text()):
            for line in re.findall(r"^\s*calmodel\s+(\S+)(.*)$", block, re.M):
                command, rest = line
                assert command in cli.commands, f"{module.name}: unknown command 'calmodel {command}'"
                known = {opt for param in cli.commands[command].params for opt in param.opts}
                for option in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", rest):
                    assert option in known, f"{module.name}: 'calmodel {command}' has no option {option}"
                seen += 1
    assert seen >= 8


def test_one_process_per_module_with_label_stub_and_script():
    for module in MODULES:
        text = module.read_text()
        assert len(re.findall(r"^process\s+\w+", text, re.M)) == 1, module.name
        assert re.search(r"^\s*label\s+'process_", text, re.M), f"{module.name}: no resource label"
        assert "stub:" in text and "script:" in text, module.name
        assert "params." not in text, f"{module.name}: modules must not read params"


@pytest.mark.parametrize("path", ["main.nf", *[f"modules/{m.name}" for m in MODULES]])
def test_strict_syntax_rules(path):
    text = (REPO / path).read_text()
    assert "Channel." not in text, "use channel. (lower case)"
    assert "shell:" not in text and "nextflow.enable" not in text and "nextflow.preview" not in text
    assert not re.search(r"^import\s", text, re.M)
    assert not re.search(r"[{(,]\s*it\b|\bit\.", text), "name closure parameters instead of 'it'"


def test_stub_run_completes(tmp_path):
    proc = run(["nextflow", "run", str(REPO), "-profile", "test", "-stub-run", "--outdir", str(tmp_path / "out")],
               cwd=tmp_path, timeout=300)
    assert "REPORT" in proc.stdout
    assert (tmp_path / "out" / "report" / "report.html").exists()


def test_help_and_bad_samplesheet(tmp_path):
    proc = run(["nextflow", "run", str(REPO), "--help"], cwd=tmp_path)
    assert "--input" in proc.stdout and "samplesheet" in proc.stdout
    sheet = tmp_path / "bad.csv"
    sheet.write_text("tile,preset,colour\nt1,vlass-like,blue\n")
    proc = run(["nextflow", "run", str(REPO), "--input", str(sheet), "--outdir", str(tmp_path / "o")],
               cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "unknown column(s) colour" in proc.stdout
    sheet.write_text("tile,preset\nt1,nonsense\n")
    proc = run(["nextflow", "run", str(REPO), "--input", str(sheet), "--outdir", str(tmp_path / "o")],
               cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "unknown preset 'nonsense'" in proc.stdout
    proc = run(["nextflow", "run", str(REPO), "--input", str(tmp_path / "missing.csv")], cwd=tmp_path, check=False)
    assert proc.returncode != 0 and "samplesheet not found" in proc.stdout
