"""The package's stages import each other one way only: no cycle between subpackages (and
top-level modules), counting every import, also those inside functions."""

import ast
from collections import defaultdict
from pathlib import Path

import mcucompress

PACKAGE = Path(mcucompress.__file__).parent


def _unit(module: str) -> str | None:
    """The subpackage or top-level module an absolute module name belongs to."""
    parts = module.split(".")
    return parts[1] if parts[0] == "mcucompress" and len(parts) > 1 else None


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, package: list[str]):
    """Absolute names of every module ``source`` (a module of ``package``) imports, anywhere in
    it; relative imports resolved."""
    here = package
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            yield base
            # "from mcucompress import export" imports the module mcucompress.export
            yield from (f"{base}.{alias.name}" for alias in node.names if base == "mcucompress")


def import_graph() -> dict[str, dict[str, list[str]]]:
    """unit -> {imported unit: [files importing it]}"""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path).split(".")
        package = module if path.name == "__init__.py" else module[:-1]
        unit = _unit(".".join(module))
        for name in _imports(path.read_text(), package):
            target = _unit(name)
            exists = (PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").is_file() if target else False
            if unit and exists and target != unit:
                edges[unit][target].append(str(path.relative_to(PACKAGE)))
    return edges


def _cycle(edges) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles_between_subpackages():
    edges = import_graph()
    cycle = _cycle(edges)
    if cycle:
        hops = [f"{a} -> {b} ({', '.join(edges[a][b])})" for a, b in zip(cycle, cycle[1:])]
        raise AssertionError("import cycle: " + "; ".join(hops))


def test_the_catalogue_sits_at_the_bottom():
    """ir imports nothing of the package but errors: every stage may read it."""
    edges = import_graph()
    assert set(edges.get("ir", {})) <= {"errors"}


def test_the_checker_sees_function_local_and_relative_imports():
    source = "def f():\n    from mcucompress.export import export\n    import mcucompress.load\n" \
             "    from ..ir import ops\n    from mcucompress import verify\n"
    assert list(_imports(source, ["mcucompress", "codegen"])) == [
        "mcucompress.export", "mcucompress.load", "mcucompress.ir", "mcucompress", "mcucompress.verify"]
