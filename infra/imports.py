"""Objects named by ``module:attribute`` import paths (families, label functions, scenario code).

>>> import_object("json:dumps").__name__
'dumps'
>>> import_callable("os.path:nope")
Traceback (most recent call last):
ImportError: cannot import 'os.path:nope': module 'posixpath' has no attribute 'nope'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def import_object(path: str) -> Any:
    """The object ``path`` names (the attribute may be dotted); ``ImportError`` saying why not."""
    module_name, _, attribute = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        msg = f"cannot import {path!r}: {exc}"
        raise ImportError(msg) from exc
    return target


def import_callable(path: str) -> Callable[..., Any]:
    """``import_object`` for a function (or any callable); ``ImportError`` when it is not one."""
    target = import_object(path)
    if not callable(target):
        msg = f"{path!r} is not callable"
        raise ImportError(msg)
    return target
