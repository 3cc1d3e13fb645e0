"""The layering of `models/`: a core of flat modules (`models/*.py`) and wings (subpackages) that
depend on the core only, plus `models.facegen`, the data source other wings may use; nothing in
`models/` imports the service (`backend`, `worker`) at import time. Imports are read with `ast`,
so every module is checked, imported or not. And the torch-free part of the core stays so.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
WINGS = ("training", "evaluation", "conversion", "facegen")
SHARED_WING = "facegen"  # the training and evaluation faces: any wing may import it
# The service's code, imported inside a function (never at import time) to align photos and find
# the landmark model exactly as the service does; nowhere else.
LAZY_BACKEND = {"models/evaluation/photos.py", "models/evaluation/brush.py", "models/facegen/labels.py"}
TORCH_FREE = ("models", "models.config", "models.errors", "models.schedule")


def imports(source: str, module: str) -> list[tuple[str, bool]]:
    """(imported module, at import time?) for every import in `source`, the module `module`;
    `from a import b` yields both `a` and `a.b` (b may be a submodule). Imports inside a function
    body run when it is called; everything else (module level, class bodies, `if` blocks) runs
    at import time."""
    package = module.removesuffix(".__init__") if module.endswith(".__init__") else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend((alias.name, inner) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: resolve against this module's package
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - child.level + 1] + ([base] if base else []))
                found.append((base, inner))
                found.extend((f"{base}.{alias.name}", inner) for alias in child.names)
            visit(child, inner)

    visit(ast.parse(source), True)
    return found


def _modules() -> list[tuple[str, str, list[tuple[str, bool]]]]:
    """(path relative to the repository, the wing it belongs to or "" for the core, its imports)."""
    out = []
    for path in sorted(MODELS.rglob("*.py")):
        rel = path.relative_to(REPO)
        parts = rel.with_suffix("").parts
        wing = parts[1] if len(parts) > 2 else ""
        out.append((rel.as_posix(), wing, imports(path.read_text(), ".".join(parts))))
    return out


def _wing_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "models" and parts[1] in WINGS else None


def _violations() -> list[str]:
    problems = []
    for rel, wing, found in _modules():
        for name, top in found:
            root = name.split(".")[0]
            target = _wing_of(name)
            if not wing and target:
                problems.append(f"{rel}: the core imports the wing module {name}")
            if wing and target and target not in (wing, SHARED_WING):
                problems.append(f"{rel}: the {wing} wing imports another wing's module {name}")
            if root in ("backend", "worker") and top:
                problems.append(f"{rel}: imports {name} at import time")
            if root == "worker" or (root == "backend" and rel not in LAZY_BACKEND):
                problems.append(f"{rel}: imports the service's {name}")
    return problems


def test_every_module_of_models_is_a_core_module_or_in_a_wing() -> None:
    packages = {p.name for p in MODELS.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(WINGS)
    assert {wing for _, wing, _ in _modules()} == {"", *WINGS}


def test_the_core_imports_no_wing_and_wings_only_the_core_and_facegen() -> None:
    assert _violations() == []


def test_the_checker_sees_each_kind_of_violation() -> None:
    """Not vacuous: each rule fires on a module that breaks it."""
    core = imports("from models.training import data\nimport models.evaluation.metrics\n", "models.ddim")
    assert ("models.training.data", True) in core and ("models.evaluation.metrics", True) in core
    lazy = imports("def f():\n    from backend.faces import align_face\n", "models.evaluation.photos")
    assert ("backend.faces", False) in lazy
    in_class = imports("class A:\n    import worker.storage\n", "models.facegen.photo")
    assert ("worker.storage", True) in in_class
    relative = imports("from ..conversion import parity\n", "models.training.cli")
    assert ("models.conversion.parity", True) in relative
    assert _wing_of("models.conversion.parity") == "conversion" and _wing_of("models.pipeline") is None


@pytest.mark.parametrize("module", TORCH_FREE)
def test_torch_free_core_modules_have_no_torch_import_at_top_level(module: str) -> None:
    path = MODELS / ("__init__.py" if module == "models" else f"{module.split('.')[1]}.py")
    heavy = [name for name, top in imports(path.read_text(), module)
             if top and name.split(".")[0] in ("torch", "PIL", "safetensors")]
    assert heavy == []


def test_importing_the_package_config_schedule_and_errors_imports_no_torch() -> None:
    """The web tier validates steps with `models.schedule` and raises `models.errors`: in a fresh
    interpreter (this one has torch already), those imports and a step check load no torch."""
    code = ("import sys\n"
            f"import {', '.join(TORCH_FREE)}\n"
            "models.schedule.check_steps(20)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PIL', 'safetensors'))\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_every_section_of_docs_official_that_the_code_cites_exists() -> None:
    """Comments cite sections of docs/official.md by name for facts about the official code."""
    headings = {line.lstrip("#").strip() for line in (REPO / "docs" / "official.md").read_text().splitlines()
                if line.startswith("#")}
    cited = set()
    for folder in ("models", "tests/models", "scripts"):
        for path in (REPO / folder).rglob("*.py"):
            text = " ".join(path.read_text().split())  # a citation may wrap across lines
            for m in re.finditer(r'docs/official\.md,((?:\s*(?:#\s*)?(?:and\s+)?\\?"[^"\\]+\\?")+)', text):
                cited |= set(re.findall(r'"([^"\\]+)\\?"', m.group(1)))
    assert cited and cited <= headings, sorted(cited - headings)
