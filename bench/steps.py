"""A step of `make bench` that does not finish is reported, and the run goes on.

`attempt` runs one step and records its status in results.json's `steps` (`ok` or `incomplete`, its
duration, and for an incomplete step why and what it had measured by then: a child's last progress,
bench/common.py). The section of an incomplete step is that record, `{"status": "incomplete",
"reason": ..., "measured": {...}}`; its met flags are None (not judged), and the printed table shows
the step as not finished, with what it measured."""
from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import common

OK, INCOMPLETE = "ok", "incomplete"


def attempt(steps: dict[str, dict], name: str, work: Callable[[], Any]) -> Any:
    """work()'s answer, or None when it did not finish; steps[name] says which, and why."""
    started = time.perf_counter()
    try:
        answer = work()
    except common.StepIncomplete as incomplete:
        steps[name] = {"status": INCOMPLETE, "reason": incomplete.reason, "measured": incomplete.measured}
    except Exception as error:  # noqa: BLE001 - any failure of one step is reported, the run goes on
        where = traceback.extract_tb(error.__traceback__)[-1]
        steps[name] = {"status": INCOMPLETE, "measured": {},
                       "reason": f"{type(error).__name__} at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}: "
                                 f"{str(error).splitlines()[0][:200] if str(error) else ''}"}
    else:
        steps[name] = {"status": OK}
    steps[name]["duration_s"] = round(time.perf_counter() - started, 1)
    steps[name]["slowness"] = common.slowness()
    if steps[name]["status"] != OK:
        print(f"  {name}: not finished ({steps[name]['reason']}); the run goes on", flush=True)
        return None
    return answer


def incomplete(steps: dict[str, dict], name: str, *, derived: bool = False) -> dict:
    """The section of step `name`, which did not finish (or, derived, of a section made from its figures)."""
    record = steps[name]
    reason = f"needs the {name} step's figures, which did not finish ({record['reason']})" if derived else record["reason"]
    return {"status": INCOMPLETE, "reason": reason, "measured": {} if derived else record["measured"]}


def finished(section: Any) -> bool:
    return isinstance(section, dict) and section.get("status") != INCOMPLETE


def judged(section: Any, judge: Callable[[], bool]) -> bool | None:
    """A met flag: judge() on a finished section, None on one that did not finish."""
    return judge() if finished(section) else None


def flag(met: dict, key: str) -> str:
    if key not in met:
        return ""
    return {True: "met", False: "MISSED", None: "not judged"}[met[key]]


def rows(name: str, section: dict) -> list[tuple[str, Any, str, str]]:
    """The printed table's rows for a step that did not finish: the fact, why, and what it measured."""
    measured = ", ".join(f"{key} {value}" for key, value in section.get("measured", {}).items()
                         if not isinstance(value, dict | list))
    return [(f"{name}: NOT FINISHED", "incomplete", "", section["reason"][:90]),
            *([(f"{name}: measured before it stopped", measured[:120], "", "")] if measured else [])]
