"""The import layering of docs/ARCHITECTURE.md holds for every module of the package.

Three rules, read from the doc's ```layers``` table: imports point to the same or a lower layer; the
module-level import graph has no cycle; genzoo modules are imported inside functions only where the doc
allows it (start-up time of the entry points). The checker is also run on planted violations, so that a
checker that finds nothing cannot pass.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
LAZY_ALLOWED = {"genzoo", "genzoo.cli"}  # entry points: function-level imports for start-up time only


def read_layers() -> list[tuple[str, list[str]]]:
    block = re.search(r"```layers\n(.*?)```", DOC.read_text(), re.S)
    assert block, f"{DOC} has no ```layers``` table"
    layers = []
    for line in block.group(1).strip().splitlines():
        name, _, mods = line.partition(":")
        layers.append((name.strip(), [m.strip() for m in mods.split(",") if m.strip()]))
    return layers[::-1]  # bottom first: index = height


def package_sources() -> dict[str, str]:
    out = {}
    for p in sorted((ROOT / "genzoo").rglob("*.py")):
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        out[".".join(parts) + (".__init__" if is_pkg else "")] = p.read_text()
    return out


def _module(name: str) -> str:
    return name.removesuffix(".__init__")


def imports(name: str, source: str, modules: set[str]) -> list[tuple[str, int, bool]]:
    """(imported genzoo module, line, inside a function) for every import statement of one module."""
    tree = ast.parse(source)
    package = _module(name) if name.endswith(".__init__") else name.rpartition(".")[0]
    nested: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            nested.update(id(n) for n in ast.walk(node) if n is not node)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from genzoo.metrics import suite` imports the submodule genzoo.metrics.suite
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        else:
            continue
        for t in targets:
            if t == "genzoo" or t.startswith("genzoo."):
                found.append((t, node.lineno, id(node) in nested))
    return found


def layer_of(module: str, layers) -> int | None:
    best, height = -1, None
    for h, (_, names) in enumerate(layers):
        for n in names:
            covers = module == n or ("." in n and module.startswith(n + "."))  # the root names only its __init__
            if covers and len(n) > best:
                best, height = len(n), h
    return height


def violations(sources: dict[str, str], layers) -> list[str]:
    modules = {_module(n) for n in sources}
    problems, graph = [], {}
    for name, src in sources.items():
        mod = _module(name)
        here = layer_of(mod, layers)
        if here is None:
            problems.append(f"{mod}: in no layer of {DOC.name}; add it to the table")
            continue
        edges = set()
        for target, line, lazy in imports(name, src, modules):
            there = layer_of(target, layers)
            if there is not None and there > here:
                problems.append(f"{mod}:{line} imports {target} ({layers[there][0]}) from below ({layers[here][0]})")
            if lazy and mod not in LAZY_ALLOWED and target != mod:
                problems.append(f"{mod}:{line} imports {target} inside a function; import it at module level")
            if not lazy:
                # importing a.b.c runs a, a.b and a.b.c; a module's own packages are already running
                parts = target.split(".")
                mine = {mod.rsplit(".", i)[0] for i in range(mod.count(".") + 1)}
                edges.update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) not in mine)
                edges.add(target)
        graph[mod] = {e for e in edges if e in modules and e != mod}
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp) + [sorted(comp)[0]])

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_every_module_keeps_the_layers():
    problems = violations(package_sources(), read_layers())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("planted, expected", [
    ({"genzoo.data.bad": "from genzoo.training import Trainer\n"}, "imports genzoo.training (train) from below (base)"),
    ({"genzoo.metrics.bad": "def f():\n    from genzoo.data import load\n"}, "inside a function"),
    ({"genzoo.nn.a": "from genzoo.nn import b\n", "genzoo.nn.b": "import genzoo.nn.a\n"}, "import cycle"),
    ({"genzoo.newpart": "x = 1\n"}, "in no layer"),
    ({"genzoo.data.bad": "from genzoo.data import load\n", "genzoo.data.__init__": "from genzoo.data.bad import x\n"},
     "import cycle: genzoo.data -> genzoo.data.bad"),
    ({"genzoo.models.bad": "from ..training.trainer import Trainer\n"}, "imports genzoo.training.trainer"),
])
def test_the_checker_finds_planted_violations(planted, expected):
    sources = {**package_sources(), **planted}
    problems = violations(sources, read_layers())
    assert any(expected in p for p in problems), problems


def test_the_checker_allows_downward_and_entry_point_lazy_imports():
    sources = {"genzoo.training.ok": "from genzoo.data import load\n",
               "genzoo.cli": "def main():\n    from genzoo.training import Trainer\n"}
    assert violations(sources, read_layers()) == []
