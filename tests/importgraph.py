"""What every module of the tree imports, read with ``ast`` (the code is never run).

Used by the dependency rule test, the purity test and ``scripts/archdoc.py``. Every import
statement counts, wherever it sits (module level, inside a function, under
``TYPE_CHECKING``); relative imports are resolved against the module's package. A call of
``importlib.import_module`` or ``__import__`` is recorded too: with its name when the argument
is a string literal, and as *dynamic* (``name`` is the f-string's literal tail, e.g. ``.cli``)
when the name is computed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("gameserver", "matchmaker", "spectator", "commerce", "loadtest", "butler", "gateway", "web")
KERNEL = "elysium"


@dataclass(frozen=True)
class Import:
    path: str  # relative to the tree's root, with forward slashes
    line: int
    module: str  # the importing module, dotted
    name: str  # the imported module, dotted (for a dynamic import: the literal tail)
    function: str | None  # the innermost enclosing function, if any
    dynamic: bool = False

    @property
    def top(self) -> str:
        return self.name.split(".")[0]

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _dynamic_target(call: ast.Call) -> tuple[str, bool] | None:
    func = call.func
    is_import = (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id in ("import_module", "__import__"))
    if not is_import or not call.args:
        return None
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value, False
    tail = ""
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[-1], ast.Constant):
        tail = str(arg.values[-1].value)
    return tail, True


class _Visitor(ast.NodeVisitor):
    def __init__(self, root: Path, path: str, module: str, is_package: bool) -> None:
        self.root = root
        self.path, self.module, self.is_package = path, module, is_package
        self.functions: list[str] = []
        self.found: list[Import] = []

    def _add(self, node: ast.AST, name: str, dynamic: bool = False) -> None:
        function = self.functions[-1] if self.functions else None
        self.found.append(Import(self.path, getattr(node, "lineno", 0), self.module, name, function, dynamic))

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.module.split(".")
            if not self.is_package:
                package = package[:-1]
            package = package[:len(package) - (node.level - 1)]
            base = ".".join(package + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = []
        for alias in node.names:  # ``from pkg import mod``: name the module when it is one
            sub = f"{base}.{alias.name}" if base else alias.name
            is_module = (self.root / sub.replace(".", "/")).with_suffix(".py").is_file() or (
                self.root / sub.replace(".", "/") / "__init__.py").is_file()
            names.append(sub if is_module else base)
        for name in dict.fromkeys(names):
            self._add(node, name)

    def visit_Call(self, node: ast.Call) -> None:
        target = _dynamic_target(node)
        if target is not None:
            self._add(node, *target)
        self.generic_visit(node)


def file_imports(root: Path, file: Path) -> list[Import]:
    visitor = _Visitor(root, file.relative_to(root).as_posix(), module_name(root, file), file.name == "__init__.py")
    visitor.visit(ast.parse(file.read_text(), str(file)))
    return visitor.found


def python_files(root: Path, package: str) -> Iterator[Path]:
    base = root / package
    if base.is_file() or not base.is_dir():
        return
    for file in sorted(base.rglob("*.py")):
        if not any(part.startswith(".") or part == "__pycache__" for part in file.relative_to(root).parts):
            yield file


def package_imports(root: Path, package: str) -> list[Import]:
    return [imp for file in python_files(root, package) for imp in file_imports(root, file)]
