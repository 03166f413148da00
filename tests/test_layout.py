"""The package's layout rules: a stage imports calmodel.core (and itself), never another
stage; calmodel.core imports no stage. Checked on the source with `ast`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "calmodel"
STAGES = sorted(p.name for p in PACKAGE.iterdir()
                if p.is_dir() and (p / "__init__.py").is_file() and p.name != "core")


def _imported(path: Path, source: str | None = None) -> set[str]:
    """Absolute names of the calmodel modules that ``path`` (or ``source`` given as its text)
    imports."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    names: set[str] = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names.update(f"{base}.{alias.name}" for alias in node.names)
            names.add(base)
    return {n for n in names if n == "calmodel" or n.startswith("calmodel.")}


def _stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def test_the_stages_are_the_expected_ones():
    assert STAGES == ["build_model", "calibrate", "catalog", "characterize", "compare", "imaging",
                      "report", "simulate"]


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_no_other_stage(stage):
    offending = [f"{path.relative_to(PACKAGE)} imports {module}"
                 for path in sorted((PACKAGE / stage).rglob("*.py"))
                 for module in sorted(_imported(path))
                 if _stage_of(module) not in (None, stage)]
    assert not offending, "\n".join(offending)


def test_core_imports_no_stage():
    offending = [f"{path.relative_to(PACKAGE)} imports {module}"
                 for path in sorted((PACKAGE / "core").rglob("*.py"))
                 for module in sorted(_imported(path)) if _stage_of(module) is not None]
    assert not offending, "\n".join(offending)


def test_the_rule_catches_a_stage_importing_a_stage():
    """The check itself: an import of another stage, absolute or relative, is seen."""
    source = "from calmodel.catalog.stage import make_catalog\nfrom ..imaging import geometry\n"
    assert {_stage_of(m) for m in _imported(PACKAGE / "compare" / "probe.py", source)} >= {
        "catalog", "imaging"}
