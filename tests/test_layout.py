"""The package's shape: stage folders, small modules, training never imported by the runtime."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "iqa_core"
STAGES = ("inputs", "model", "analysis", "explain", "render", "workflows", "training")
MAX_LINES = 400


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_every_stage_is_a_package():
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_no_module_is_over_the_size_limit():
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines()) for p in _modules()}
    assert {k: v for k, v in sizes.items() if v > MAX_LINES} == {}


def test_the_runtime_never_imports_training_code():
    offenders = {p.relative_to(ROOT).as_posix(): sorted(m for m in _imports(p) if m.startswith("iqa_core.training"))
                 for p in _modules() if "training" not in p.relative_to(PACKAGE).parts}
    assert {k: v for k, v in offenders.items() if v} == {}
    assert not any(m.startswith("iqa_core.training") for m in _imports(ROOT / "app.py"))
