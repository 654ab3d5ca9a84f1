"""The package's import graph, read from the modules' source (ast, nothing is imported), has no
cycle and no import from a lower layer to a higher one (docs/architecture.md, "Layers"):

    commands   cli, commands/, __main__     click wrappers; nothing below imports them
    tools      scan, verify, preview        library entry points beside the engine
    engine     engine, rows, run, pipeline  owns the loop (pipeline: pg_dump archives through it)
    features   features/, stages/           stages the engine composes
    work       work                         mask_block(plan, block): the work unit
    dialects   dialects/                    description + lexer: events, codecs
    transformers  transformers/             the mutation registry
    libraries  everything else              schema, idents, rules, detect, remap, crypto, ...

Rules: dialects and transformers import neither the engine, nor a feature, a tool or a command
(and a transformer no dialect); a feature imports no command, no tool and no dialect internals
(only `dumpmask.dialects` and `dumpmask.dialects.base`); the work unit and the libraries import
neither the engine, a feature, a tool nor a command; the engine imports no tool or command;
nothing but a command imports a command. The package's face (`dumpmask/__init__.py`) may
import anything. Every import counts, also one inside a function (a lazy import still ties
the modules together), except under `if TYPE_CHECKING:`.
"""
from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGE = REPO / "dumpmask"

LAYER_OF_HEAD = {
    "cli": "commands", "commands": "commands", "__main__": "commands",
    "scan": "tools", "verify": "tools", "preview": "tools",
    "engine": "engine", "rows": "engine", "run": "engine", "pipeline": "engine",
    "parallel": "engine",   # where the engine runs the work unit (in-process or in workers)
    "cluster": "engine",    # where the engine runs the work unit past one machine (Dask workers)
    "split": "engine",      # a big table file of an archive as several work units (pipeline runs them)
    "features": "features", "stages": "features",
    "work": "work",
    "dialects": "dialects",
    "transformers": "transformers",
    "archive": "libraries",  # the pg_dump archive format, pure; pipeline (engine) runs the engine over it
}

#: layer -> the layers it must not import
FORBIDDEN = {
    "dialects": {"engine", "features", "tools", "commands"},
    "transformers": {"engine", "features", "tools", "commands", "dialects"},
    "features": {"tools", "commands"},
    "work": {"engine", "features", "tools", "commands"},
    "libraries": {"engine", "features", "tools", "commands", "work"},
    "engine": {"tools", "commands"},
    "tools": {"commands"},
}


def module_names(package: Path) -> dict[str, Path]:
    """dotted name -> file, for every module of the package (a package is named by its folder)."""
    names = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def layer(module: str, package_name: str) -> str:
    if module == package_name:
        return "face"
    head = module.split(".")[1]
    return LAYER_OF_HEAD.get(head, "libraries")


def type_checking_blocks(tree: ast.AST) -> set[int]:
    """ids of the import nodes under `if TYPE_CHECKING:` (never executed)."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skipped |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return skipped


def imported_modules(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `module` imports: `import a.b`, `from a import b` (the
    submodule b when there is one, else module a), relative imports resolved."""
    package_name = module.split(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    skipped = type_checking_blocks(tree)
    own_package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = own_package.split(".")
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            candidates = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                          for alias in node.names]
        else:
            continue
        for name in candidates:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name.split(".")[0] == package_name and name != module:
                targets.add(name)
    return targets


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = module_names(package)
    return {module: imported_modules(module, path, modules) for module, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def broken_rules(graph: dict[str, set[str]]) -> list[str]:
    broken = []
    for module in sorted(graph):
        package_name = module.split(".")[0]
        importer = layer(module, package_name)
        for target in sorted(graph[module]):
            imported = layer(target, package_name)
            if imported in FORBIDDEN.get(importer, set()):
                broken.append(f"{module} ({importer}) imports {target} ({imported})")
            if importer == "features" and imported == "dialects" and \
                    target not in (f"{package_name}.dialects", f"{package_name}.dialects.base"):
                broken.append(f"{module} (features) imports the dialect internals {target}")
    return broken


# --------------------------------------------------------------------------- the package

def test_the_package_has_no_import_cycle():
    found = cycles(import_graph(PACKAGE))
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_imports_a_higher_layer():
    broken = broken_rules(import_graph(PACKAGE))
    assert not broken, "imports against the layers:\n" + "\n".join(broken)


# --------------------------------------------------------------------------- the checker itself

def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


def test_checker_finds_a_cycle_through_relative_and_lazy_imports(tmp_path):
    package = write_package(tmp_path, {
        "__init__.py": "",
        "schema.py": "def f():\n    from .rules import x\n",
        "rules.py": "from pkg import schema\nx = 1\n",
        "crypto.py": "import pkg.schema\n",
    })
    assert cycles(import_graph(package)) == [["pkg.rules", "pkg.schema"]]


def test_checker_finds_imports_against_the_layers(tmp_path):
    package = write_package(tmp_path, {
        "__init__.py": "from pkg import engine\n",        # the face may import anything
        "engine.py": "from pkg.dialects import postgres\n",
        "cli.py": "from pkg import engine\n",
        "dialects/__init__.py": "",
        "dialects/base.py": "",
        "dialects/postgres.py": "from pkg.engine import run\n",
        "features/__init__.py": "",
        "features/keys.py": "from pkg.dialects import base\nfrom pkg.dialects.postgres import lex\nfrom pkg import scan\n",
        "scan.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import cli\n",
        "transformers/__init__.py": "from . import basic\n",
        "transformers/basic.py": "from pkg.features import keys\n",
        "remap.py": "from pkg.engine import run\n",
    })
    assert broken_rules(import_graph(package)) == [
        "pkg.dialects.postgres (dialects) imports pkg.engine (engine)",
        "pkg.features.keys (features) imports the dialect internals pkg.dialects.postgres",
        "pkg.features.keys (features) imports pkg.scan (tools)",
        "pkg.remap (libraries) imports pkg.engine (engine)",
        "pkg.transformers.basic (transformers) imports pkg.features.keys (features)",
    ]
