"""The layer rules, read from the source (ast), counting imports inside functions too.

* No import cycles between modules of toolkit, runtime and infra.
* runtime imports no toolkit, click or pulumi (it runs inside every image).
* infra imports, from the rest of the project, only runtime's stdlib-only contracts: the manifest, the
  container environment, the call-event wire format (``invocation``), schedules and the base errors.
* toolkit imports runtime only through its front doors (``runtime.FRONT_DOORS``).
* No module imports another module's private (``_name``) names.

Imports under ``if TYPE_CHECKING:`` are not edges (they never run), nor are those under
``if __name__ == "__main__":`` (that code runs as ``__main__``, a different module object).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import runtime

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("toolkit", "runtime", "infra")
INFRA_MAY_IMPORT = ("runtime.manifest", "runtime.environment", "runtime.invocation", "runtime.schedule",
                    "runtime.errors", "runtime.callmap", "runtime.fargate")


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    names: tuple[str, ...]
    line: int


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _skipped(node: ast.If) -> bool:
    test = ast.unparse(node.test)
    return "TYPE_CHECKING" in test or "__name__" in test


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _skipped(node):
            yield from (n for other in node.orelse for n in _imports_of(other))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        else:
            yield from _imports(node)


def _imports_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def _owner(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _edges(module: str, path: Path) -> Iterator[Edge]:
    is_package = path.name == "__init__.py"
    for node in _imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Edge(module, alias.name, (), node.lineno)
            continue
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            target = f"{base}.{alias.name}"
            if target in MODULES:
                yield Edge(module, target, (), node.lineno)
            else:
                yield Edge(module, base, (alias.name,), node.lineno)


EDGES = [edge for module, path in MODULES.items() for edge in _edges(module, path)]


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for edge in EDGES:
        target = _owner(edge.target)
        if target and target != edge.source:
            graph[edge.source].add(target)
    return graph


def import_cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph, index, low, stack, on_stack, found = _graph(), {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _top(name: str) -> str:
    return name.split(".")[0]


def test_no_import_cycles() -> None:
    assert import_cycles() == []


def test_the_rules_see_lazy_imports() -> None:
    # A rule that only read module-level imports would miss imports inside functions.
    lazy = [e for e in EDGES if e.source == "toolkit.functions" and e.target.startswith("toolkit.runner")]
    assert lazy, "toolkit.functions imports toolkit.runner inside a function; the scan must see it"


def test_runtime_imports_no_toolkit_click_or_pulumi() -> None:
    bad = [e for e in EDGES if e.source.startswith("runtime")
           and _top(e.target) in ("toolkit", "click", "pulumi", "pulumi_aws")]
    assert bad == []


def test_infra_imports_only_the_contracts() -> None:
    bad = [e for e in EDGES if e.source.startswith("infra") and _top(e.target) in ("toolkit", "runtime")
           and not any(e.target == c or e.target.startswith(c + ".") for c in INFRA_MAY_IMPORT)]
    assert bad == []


def test_toolkit_reaches_runtime_through_its_front_doors() -> None:
    doors = set(runtime.FRONT_DOORS)
    bad = [e for e in EDGES if e.source.startswith("toolkit") and _top(e.target) == "runtime"
           and _owner(e.target) not in doors]
    assert bad == []


def test_every_front_door_exists() -> None:
    assert [d for d in runtime.FRONT_DOORS if d not in MODULES] == []


def test_no_private_names_cross_modules() -> None:
    bad = [e for e in EDGES if _top(e.target) in PACKAGES
           and any(n.startswith("_") and not n.startswith("__") for n in e.names)]
    assert bad == []


def _declared_all(tree: ast.Module) -> set[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return set(ast.literal_eval(value))
    return None


def test_every_front_door_says_so_and_declares_what_it_offers() -> None:
    """Each front door's docstring says it is one; its ``__all__`` is the offer the SDK may use."""
    undocumented, no_offer = [], []
    for door in runtime.FRONT_DOORS:
        tree = ast.parse(MODULES[door].read_text())
        if "front door" not in (ast.get_docstring(tree) or "").lower():
            undocumented.append(door)
        if door != "runtime" and _declared_all(tree) is None:
            no_offer.append(door)
    assert undocumented == [] and no_offer == []


def test_toolkit_imports_only_what_a_front_door_offers() -> None:
    offers = {door: _declared_all(ast.parse(MODULES[door].read_text())) or set() for door in runtime.FRONT_DOORS}
    beyond = [f"{e.source}:{e.line} imports {name} from {e.target}" for e in EDGES
              if e.source.startswith("toolkit") and e.target in offers for name in e.names
              if name not in offers[e.target]]
    assert beyond == [], "add the name to that module's __all__ (its offer), or import what it offers"


def test_runtime_readme_lists_every_front_door() -> None:
    readme = (ROOT / "runtime" / "README.md").read_text()
    assert [door for door in runtime.FRONT_DOORS if f"`{door}`" not in readme] == []
