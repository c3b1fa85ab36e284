"""The layers hold by construction: read every import of every module and check where it points.

```
infra/app        may import anything; nothing imports it
streams/  workers/   import schemas/ and the infra base; never each other
infra (base)     imports schemas/ only
schemas/         imports nothing of the project
```

Imports inside functions count too, and no module reaches a package through ``importlib``
(only ``infra.imports`` turns ``module:attribute`` paths from data, such as a model family's
class, into objects).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "infra", "streams", "workers")
ALLOWED = {
    "schemas": {"schemas"},
    "infra": {"infra", "schemas"},
    "streams": {"streams", "infra", "schemas"},
    "workers": {"workers", "infra", "schemas"},
    "infra.app": {"infra.app", "infra", "streams", "workers", "schemas"},
}
IMPORTER = "infra/imports.py"


def layer(module: str) -> str:
    """``infra.app`` for the top of infra, else the top-level package."""
    return "infra.app" if module == "infra.app" or module.startswith("infra.app.") else module.split(".")[0]


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import of a project package in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] in PACKAGES]


def dynamic_imports(path: Path) -> list[int]:
    """Lines that call ``importlib.import_module`` or ``__import__``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith("import_module") or name == "__import__":
                lines.append(node.lineno)
    return lines


def test_every_package_is_checked() -> None:
    assert len(modules()) > 100
    assert {layer(str(p.relative_to(ROOT).with_suffix("")).replace("/", ".")) for p in modules()} == set(ALLOWED)


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path: Path) -> None:
    own = layer(str(path.relative_to(ROOT).with_suffix("")).replace("/", "."))
    wrong = [f"line {line}: {name}" for line, name in imports(path) if layer(name) not in ALLOWED[own]]
    assert not wrong, f"{own} may import only {sorted(ALLOWED[own])}: {wrong}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_package_is_reached_through_importlib(path: Path) -> None:
    if str(path.relative_to(ROOT)) == IMPORTER:
        return
    assert not dynamic_imports(path), "use an import statement, or infra.imports for paths that come from data"


def test_the_checks_catch_a_wrong_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    source = "def f():\n    from streams.app import app\n    import importlib\n    importlib.import_module('x')\n"
    module.write_text(source)
    assert imports(module) == [(2, "streams.app.app")] and dynamic_imports(module) == [4]
    assert layer("streams.app.app") not in ALLOWED["workers"] and layer("infra.app.cli") not in ALLOWED["infra"]
