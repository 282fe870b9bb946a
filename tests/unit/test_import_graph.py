"""Which project module imports which, read from the source with ``ast`` (nothing is imported).

Two rules of the layout (STYLE.md): the core ``rag/`` never imports ``api/`` or ``eval/``, not
even inside a function (``rag serve`` and ``rag eval`` come in through the ``rag.commands``
entry points); and the project's modules import each other without a cycle at import time.
Both rules are also run on a small planted tree that breaks them, so neither passes by
finding nothing.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("rag", "api", "eval")
CORE = "rag"
OUTER = ("api", "eval")
"""The packages built on the core, which the core must not know."""


@dataclass(frozen=True)
class Import:
    source: str
    """The importing module (``rag.cli``)."""
    name: str
    """The absolute dotted name imported, relative imports resolved (``api.server``)."""
    target: str | None
    """The project module that import runs (``api.server``), or None for a third-party one."""
    where: str
    """``rag/cli.py:199``."""
    at_import_time: bool
    """Runs when the module is imported: not inside a function, not under ``if TYPE_CHECKING:``."""


def project_modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """``{"rag.cli": root/rag/cli.py, "rag": root/rag/__init__.py, ...}`` for every module of ``packages``."""
    modules = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    """The deepest project module ``name`` is or lies in (``api.server.run`` -> ``api.server``)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in modules:
            return ".".join(parts[:n])
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_module_name(call: ast.Call) -> str | None:
    """The literal name of ``importlib.import_module("...")`` (or a bare ``import_module``)."""
    func = call.func
    named = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )
    first = call.args[0] if call.args else None
    return first.value if named and isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def imports_of(module: str, path: Path, root: Path, modules: Mapping[str, Path]) -> list[Import]:
    """Every import in ``path``: module level, in class bodies, in functions, via ``import_module``."""
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def record(name: str, node: ast.AST, at_import_time: bool) -> None:
        where = f"{path.relative_to(root).as_posix()}:{getattr(node, 'lineno', 0)}"
        found.append(Import(module, name, _resolve(name, modules), where, at_import_time))

    def absolute(node: ast.ImportFrom) -> str:
        if node.level == 0:
            return node.module or ""
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def visit(node: ast.AST, at_import_time: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                record(alias.name, node, at_import_time)
        elif isinstance(node, ast.ImportFrom):
            base = absolute(node)
            for alias in node.names:
                # `from eval import gate` runs eval.gate; `from api.app import create_app` runs api.app
                sub = f"{base}.{alias.name}"
                record(sub if sub in modules else base, node, at_import_time)
        elif isinstance(node, ast.Call) and (name := _import_module_name(node)) is not None:
            record(name, node, at_import_time)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            at_import_time = False
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for stmt in node.body:
                visit(stmt, False)
            for stmt in node.orelse:
                visit(stmt, at_import_time)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, at_import_time)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), True)
    return found


def all_imports(root: Path) -> Iterator[Import]:
    modules = project_modules(root)
    for module, path in modules.items():
        yield from imports_of(module, path, root, modules)


def core_violations(root: Path) -> list[str]:
    """``"rag/cli.py:199 imports api.server"`` for each import of an outer package by the core."""
    return [
        f"{imp.where} imports {imp.name}"
        for imp in all_imports(root)
        if imp.source.split(".")[0] == CORE and imp.name.split(".")[0] in OUTER
    ]


def import_time_graph(root: Path) -> dict[str, dict[str, str]]:
    """``{importer: {imported: where}}`` over the project's modules, import-time imports only."""
    graph: dict[str, dict[str, str]] = {m: {} for m in project_modules(root)}
    for imp in all_imports(root):
        if imp.at_import_time and imp.target is not None:
            graph[imp.source].setdefault(imp.target, imp.where)
    return graph


def strongly_connected(graph: Mapping[str, Mapping[str, str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, each sorted, in no particular order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return components


def shortest_cycle(graph: Mapping[str, Mapping[str, str]], start: str) -> list[str]:
    """``[start, ..., start]``, breadth first; ``start`` must lie on a cycle."""
    came_from = {start: start}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        if start in graph[v]:
            back = [v]
            while back[-1] != start:
                back.append(came_from[back[-1]])
            return [*reversed(back), start]
        for w in sorted(graph[v]):
            if w not in came_from:
                came_from[w] = v
                queue.append(w)
    raise AssertionError(f"{start} is on no cycle")


def cycles(graph: Mapping[str, Mapping[str, str]]) -> list[str]:
    """One shortest cycle per cyclic component: ``"a -> b -> a (a.py:3, b.py:1)"``."""
    found = []
    for component in strongly_connected(graph):
        start = component[0]
        if len(component) == 1 and start not in graph[start]:
            continue
        path = shortest_cycle(graph, start)
        wheres = ", ".join(graph[a][b] for a, b in pairwise(path))
        found.append(f"{' -> '.join(path)} ({wheres})")
    return found


def test_the_core_never_imports_api_or_eval() -> None:
    violations = core_violations(ROOT)
    assert not violations, "rag/ must not import api/ or eval/ (register a `rag.commands` entry point instead):\n" + (
        "\n".join(violations)
    )


def test_no_import_cycle_at_import_time() -> None:
    graph = import_time_graph(ROOT)
    assert {"rag.cli", "api.app", "eval.cli"} <= graph.keys()  # the real tree was read
    assert "rag.config" in graph["rag.cli"]
    found = cycles(graph)
    assert not found, "import cycles among the project's modules:\n" + "\n".join(found)


PLANTED = {
    # the old shape: the CLI reached up into the API lazily, and the API imported the CLI
    "rag/__init__.py": "",
    "rag/cli.py": "FEEDBACK_DB = 'f'\n\ndef serve():\n    from api.server import run\n    return run\n",
    "rag/lazy.py": "import importlib\n\ndef load():\n    return importlib.import_module('eval.cli')\n",
    # a cycle at import time, one side relative, one inside a class body
    "rag/a.py": "from . import b\n",
    "rag/b.py": "class B:\n    import rag.a\n",
    # not cycles: the way back is only for type checkers, or only inside a function
    "rag/c.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from rag.d import D\n",
    "rag/d.py": "from rag.c import TYPE_CHECKING\n",
    "rag/e.py": "def f():\n    from rag import f as g\n    return g\n",
    "rag/f.py": "import rag.e\n",
    "api/__init__.py": "from api.app import create_app\n",
    "api/server.py": "from api.app import create_app\n",
    "api/app.py": "from rag.cli import FEEDBACK_DB\n\ndef create_app():\n    return FEEDBACK_DB\n",
    "eval/__init__.py": "",
    "eval/cli.py": "from eval import gold\nfrom rag.cli import FEEDBACK_DB\n",
    "eval/gold.py": "from .cli import FEEDBACK_DB\n",
}


def test_the_rules_catch_planted_violations(tmp_path: Path) -> None:
    for name, text in PLANTED.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")

    assert core_violations(tmp_path) == ["rag/cli.py:4 imports api.server", "rag/lazy.py:4 imports eval.cli"]
    graph = import_time_graph(tmp_path)
    assert "api.server" not in graph["rag.cli"] and graph["api.app"] == {"rag.cli": "api/app.py:1"}
    assert sorted(cycles(graph)) == [
        "eval.cli -> eval.gold -> eval.cli (eval/cli.py:1, eval/gold.py:1)",
        "rag.a -> rag.b -> rag.a (rag/a.py:1, rag/b.py:2)",
    ]
