"""Dependencies inside vq_extension point one way (docs/architecture.md, "Layers").

Every module's imports, lazy ones inside functions included, are read with ``ast``. A
module may import its own package and packages of a lower layer, never a higher or an
equal one; so no two packages can form a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

ROOT_PACKAGE = "vq_extension"

# Lowest first. A name is a subpackage or a top-level module of vq_extension; "" is the
# package's own __init__ (its __version__).
LAYERS: list[set[str]] = [
    {"", "errors", "config", "media", "timestamps"},
    {"comfy"},
    {"workflows"},
    {"files"},
    {"autoprompt"},
    {"queue"},
    {"api"},
    {"routes"},
    {"app"},
    {"plugin", "cli"},
    {"__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def unit_of(module: str) -> str:
    """The layering unit of a dotted module inside vq_extension ("" for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, module: str, root: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted module) of every vq_extension import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == ROOT_PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != ROOT_PACKAGE:
                continue
            # `from . import routes` names modules, not attributes: check each name as one.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                found.append((node.lineno, candidate if _is_module(root, candidate) else target))
    return found


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(root: Path) -> list[str]:
    """Every import in the tree under ``root`` (which holds the ``vq_extension`` folder)
    that breaks the layering, as 'file:line: a imports b (why)'."""
    found = []
    for path in sorted((root / ROOT_PACKAGE).rglob("*.py")):
        module = module_name(path, root)
        unit = unit_of(module)
        if unit not in RANK:
            found.append(f"{path.relative_to(root)}: {unit!r} has no layer; add it to LAYERS")
            continue
        for line, target in imported_modules(path, module, root):
            other = unit_of(target)
            if other == unit:
                continue
            if other not in RANK:
                found.append(f"{path.relative_to(root)}:{line}: imports {target}, which has no layer")
            elif RANK[other] >= RANK[unit]:
                how = "a higher layer" if RANK[other] > RANK[unit] else "a package of the same layer"
                found.append(f"{path.relative_to(root)}:{line}: {unit or ROOT_PACKAGE} imports {target} ({how})")
    return found


def test_vq_extension_imports_point_one_way() -> None:
    assert violations(REPO) == []


def test_every_package_and_top_module_has_a_layer() -> None:
    names = {p.stem for p in (REPO / ROOT_PACKAGE).glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in (REPO / ROOT_PACKAGE).iterdir() if (p / "__init__.py").is_file()}
    assert names - set(RANK) == set()


def test_an_upward_import_is_reported(tmp_path: Path) -> None:
    """A synthetic tree where queue imports api (upward) and files and autoprompt import
    each other (a cycle): each is named with its file and line."""
    pkg = tmp_path / ROOT_PACKAGE
    for folder, body in {
        "queue": "from ..api import views\n",
        "api": "from ..queue import store\n",
        "files": "import vq_extension.autoprompt.client\n",
        "autoprompt": "def late():\n    from ..files import paths\n",
    }.items():
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
        (pkg / folder / "mod.py").write_text(body)
    (pkg / "__init__.py").write_text("")
    found = violations(tmp_path)
    assert any(v.startswith("vq_extension/queue/mod.py:1: queue imports vq_extension.api") for v in found), found
    assert any(v.startswith("vq_extension/files/mod.py:1: files imports vq_extension.autoprompt") for v in found), found
    assert not any("autoprompt/mod.py" in v for v in found), "autoprompt may import files (lower layer)"
    assert not any("api/mod.py" in v for v in found), "api may import queue (lower layer)"
    assert len(found) == 2, found


# Blocking work runs on vq's two executors (docs/architecture.md, "Layers"); the default
# executor serves ComfyUI's own files. Only the start-up retry (before there is an app) uses it.
DEFAULT_EXECUTOR_ALLOWED = {"vq_extension/plugin.py"}


def default_executor_calls(root: Path) -> list[str]:
    """'file:line' of every ``asyncio.to_thread(...)`` / ``run_in_executor(None, ...)`` call."""
    found = []
    for path in sorted((root / ROOT_PACKAGE).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            to_thread = node.func.attr == "to_thread"
            default_pool = (node.func.attr == "run_in_executor" and node.args
                            and isinstance(node.args[0], ast.Constant) and node.args[0].value is None)
            if to_thread or default_pool:
                found.append(f"{path.relative_to(root).as_posix()}:{node.lineno}")
    return found


def test_blocking_work_never_goes_to_the_default_executor(tmp_path: Path) -> None:
    calls = default_executor_calls(REPO)
    assert [c for c in calls if c.split(":")[0] not in DEFAULT_EXECUTOR_ALLOWED] == []
    (tmp_path / ROOT_PACKAGE).mkdir()
    (tmp_path / ROOT_PACKAGE / "slow.py").write_text(
        "import asyncio\n\nasync def f(loop):\n    await asyncio.to_thread(print)\n"
        "    await loop.run_in_executor(None, print)\n")
    assert default_executor_calls(tmp_path) == ["vq_extension/slow.py:4", "vq_extension/slow.py:5"]
