"""The package's shape, read from its own imports: stages import only downward, no module
imports itself back through others, and `rag.__all__` is exactly what `rag` exports
(httpx's test_exported_members)."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import rag

PACKAGE = Path(rag.__file__).resolve().parent

# Lower numbers sit lower: a module may import its own stage and any stage below it.
# ingest, retrieve and verify share a level and must not import one another.
LEVELS = {
    "errors": 0, "schema": 0, "config": 1, "validation": 2,
    "text": 3, "index": 4,
    "ingest": 5, "retrieve": 5, "verify": 5,
    "answer": 6, "assistant": 7, "eval": 8, "integrations": 8, "__init__": 8, "terminal": 8,
    "cli": 9,
}


def _module_name(path: Path) -> str:
    parts = ("rag", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts).removesuffix(".__init__")


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> dict[str, list[tuple[int, str]]]:
    """Every module's imports of the package, lazy ones inside functions included."""
    found: dict[str, list[tuple[int, str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        targets: list[tuple[int, str]] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] == "rag":
                    targets.append((node.lineno, node.module))
            elif isinstance(node, ast.Import):
                targets += [(node.lineno, a.name) for a in node.names
                            if a.name.split(".")[0] == "rag"]
        found[_module_name(path)] = targets
    return found


def test_every_stage_has_a_level() -> None:
    stages = {_stage(m) for m in _imports()}
    assert stages <= LEVELS.keys(), f"new stage(s) without a level: {stages - LEVELS.keys()}"


def test_stages_import_only_downward() -> None:
    wrong = []
    for module, targets in _imports().items():
        source = _stage(module)
        for line, target in targets:
            dest = _stage(target)
            if dest != source and LEVELS[dest] >= LEVELS[source]:
                wrong.append(f"{module}:{line} imports {target}")
    assert not wrong, "imports upward or sideways:\n" + "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph = {m: {t for _, t in targets if t != m} for m, targets in _imports().items()}
    # A module reaches itself only through a cycle; depth-first from each module.
    for start in graph:
        seen: set[str] = set()
        stack = list(graph[start])
        while stack:
            current = stack.pop()
            assert current != start, f"{start} imports itself back"
            if current in seen or current not in graph:
                continue
            seen.add(current)
            stack.extend(graph[current])


def test_all_is_exactly_what_rag_exports() -> None:
    exported = {name for name, value in vars(rag).items()
                if not name.startswith("_") and not isinstance(value, types.ModuleType)
                and getattr(value, "__module__", "rag").startswith("rag")}
    assert set(rag.__all__) == exported
    for name in rag.__all__:
        assert getattr(rag, name).__module__.startswith("rag."), name
