"""AWS event shapes in, service calls, AWS response shapes out; no business rules here."""
from __future__ import annotations

import importlib
from typing import Any


class OnFirstUse:
    """A handler module, imported when a route (or a consumer, a schedule) first calls into it: app.py
    only registers entry points, so `import app` stays close to `import chalice` (the cold start
    target, bench/coldstart.py) and each Lambda function loads the handlers and domain rules it uses."""

    def __init__(self, name: str) -> None:
        self._name = f"{__name__}.{name}"

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name), attribute)  # after the first call: a sys.modules look-up

    def __repr__(self) -> str:
        return f"<handlers {self._name}, imported on first use>"


def on_first_use(*names: str) -> tuple[Any, ...]:
    """One OnFirstUse per handler module name, in order."""
    return tuple(OnFirstUse(name) for name in names)
