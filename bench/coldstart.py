"""Cold start: `import app` in a fresh interpreter, against `import chalice` in the same run.

Each sample is a new interpreter that times the import statement itself (so interpreter start-up,
reported apart, is in neither figure); the two kinds alternate, and the median of each is kept.
One untimed import of each comes first, so bytecode is compiled once, as in a deployed package."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys

from bench.common import ROOT

RUNS = 9
PROBE = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def _sample(code: str, env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1] or 0)


def _startup(env: dict[str, str]) -> float:
    import time
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def measure(env: dict[str, str]) -> dict:
    env = {**os.environ, **env}
    for module in ("chalice", "app"):  # once untimed: bytecode caches written, files in the page cache
        _sample(PROBE.format(module=module), env)
    samples: dict[str, list[float]] = {"app": [], "chalice": [], "startup": []}
    for _ in range(RUNS):
        samples["chalice"].append(_sample(PROBE.format(module="chalice"), env))
        samples["app"].append(_sample(PROBE.format(module="app"), env))
        samples["startup"].append(_startup(env))
    app_ms, chalice_ms, startup_ms = (round(statistics.median(samples[k]) * 1000, 1) for k in ("app", "chalice", "startup"))
    return {"import_app_ms": app_ms, "import_chalice_ms": chalice_ms, "ratio": round(app_ms / chalice_ms, 2),
            "interpreter_startup_ms": startup_ms, "runs": RUNS,
            "method": "median of fresh interpreters timing the import statement; interpreter start-up excluded"}
