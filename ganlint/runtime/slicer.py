"""The static slice: keep imports, definitions and model construction; drop everything else.

Used when neither a convention nor the tripwire exec yields models (the script crashes on a
missing data file, say). A statement is dropped when it is not a definition or an assignment, when
it calls something that loads data or trains, or when it reads a name bound by a dropped statement
("taint"), so what is kept can run on its own.
"""

from __future__ import annotations

import ast

_DROP_CALLS = ("load", "read", "open", "download", "fit", "train", "get_file", "from_tensor_slices",
               "glob", "listdir", "savefig", "show", "save", "imread", "map", "batch", "shuffle")


def _names_read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _names_bound(node: ast.AST) -> set[str]:
    bound = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            bound.add(n.id)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(n.name)
    return bound


def _calls_something_heavy(node: ast.AST) -> bool:
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            func = n.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            lowered = name.lower()
            if any(word in lowered for word in _DROP_CALLS):
                return True
    return False


def slice_tree(source: str, filename: str = "<script>") -> tuple[ast.Module, list[str]]:
    """Return the sliced module (line numbers kept) and the dropped statements (``line: text``)."""
    tree = ast.parse(source, filename)
    kept: list[ast.stmt] = []
    dropped: list[str] = []
    tainted: set[str] = set()
    for stmt in tree.body:
        keep = False
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            keep = True
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            value = stmt.value
            keep = value is not None and not _calls_something_heavy(value) and not (_names_read(value) & tainted)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            keep = True  # docstring
        if keep:
            kept.append(stmt)
            if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                tainted -= _names_bound(stmt)
        else:
            tainted |= _names_bound(stmt)
            text = ast.get_source_segment(source, stmt) or type(stmt).__name__
            dropped.append(f"{stmt.lineno}: {text}".split("\n")[0])
    return ast.Module(body=kept, type_ignores=[]), dropped


def slice_source(source: str, filename: str = "<script>") -> tuple[str, list[str]]:
    """The sliced source as text, and the dropped statements."""
    tree, dropped = slice_tree(source, filename)
    return ast.unparse(tree), dropped


def has_convention(source: str) -> bool:
    """Whether the file defines ``ganlint_models()`` at module level."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(isinstance(s, ast.FunctionDef) and s.name == "ganlint_models" for s in tree.body)
