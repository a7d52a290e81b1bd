"""What the measuring processes share: the bench tenant, signed rejections, timing, child processes.

A measurement runs in a child process (`python -m bench.<module> <answer.json> [args]`) against the
endpoint that bench/run.py holds, so the hub's time and memory are its own. The hub's log lines go
to /dev/null (in Lambda they go to CloudWatch; writing them is part of the measured time)."""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TENANT = "bench"
SOURCE = "standard"
SECRET = "whsec_YmVuY2gtd2ViaG9vay1zZWNyZXQta2V5LTAwMDE="
AGENCY = "sandbox"
AGENCY_SECRET = "whsec_YmVuY2gtYWdlbmN5LXNlY3JldC1rZXktMDAwMQ=="
SETTINGS = {"company_name": "ベンチ株式会社", "sender_email": "careers@example.com",
            "postal_address": "〒100-0001 東京都千代田区千代田1-1", "contact": "careers@example.com",
            "default_locale": "ja", "mail_transport": "ses"}


# -- the parent side ------------------------------------------------------------------------------

class StepIncomplete(Exception):  # noqa: N818 - a report, not a fault: the run goes on
    """A measuring child did not finish (it ran out of time, or failed): why, and what it had
    measured by then (the last progress it wrote, see `progress`; {} when none)."""

    def __init__(self, reason: str, measured: dict | None = None) -> None:
        super().__init__(reason)
        self.reason, self.measured = reason, measured or {}


def slowness() -> float:
    """How many times slower than the reference machine this one is (bench/slowness.py sets
    BENCH_SLOWNESS from its calibration at the start of a run; 1 until then)."""
    return float(os.environ.get("BENCH_SLOWNESS", "1"))


def limit_s(reference_s: float) -> float:
    """A wall limit written for the reference machine, scaled to this one (bench/slowness.py)."""
    from bench import slowness as calibration

    return calibration.scaled(reference_s, slowness())


def run_child(module: str, env: dict[str, str], *args: str, timeout_s: float = 600) -> dict:
    """Run bench.<module> in a fresh interpreter with env; its answer (the JSON it wrote).

    timeout_s is the limit on the reference machine; the child gets it scaled by this machine's
    slowness. Raises StepIncomplete, with the child's last progress, when it runs out of time or fails."""
    answer = ROOT / ".local" / f"bench-{module}.json"
    answer.parent.mkdir(exist_ok=True)
    partial = _partial(answer)
    answer.unlink(missing_ok=True)
    partial.unlink(missing_ok=True)
    limit, name = limit_s(timeout_s), " ".join((f"bench.{module}", *args))
    try:
        subprocess.run([sys.executable, "-m", f"bench.{module}", str(answer), *args], cwd=ROOT,
                       env={**os.environ, **env}, stdout=subprocess.DEVNULL, check=True, timeout=limit)
    except subprocess.TimeoutExpired:
        raise StepIncomplete(f"{name} ran out of time ({limit:.0f} s)",
                             _read(partial)) from None
    except subprocess.CalledProcessError as error:
        raise StepIncomplete(f"{name} failed (exit {error.returncode})",
                             _read(partial)) from None
    return json.loads(answer.read_text())


def _partial(answer: Path) -> Path:
    return answer.with_suffix(".partial.json")


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# -- the child side -------------------------------------------------------------------------------

def child_main(measure: Callable[..., dict]) -> None:
    """Entry point of a measuring child: count AWS calls from the start, measure, write the answer."""
    from bench import counting

    counting.install()
    sys.path.insert(0, str(ROOT))
    answer = measure(*sys.argv[2:])
    Path(sys.argv[1]).write_text(json.dumps(answer))


def progress(figures: dict) -> None:
    """What a measuring child has measured so far: the parent reports it if the child does not
    finish (StepIncomplete). Written whole, then renamed, so the parent never reads half of it."""
    partial = _partial(Path(sys.argv[1]))
    partial.with_suffix(".tmp").write_text(json.dumps(figures))
    partial.with_suffix(".tmp").replace(partial)


@contextlib.contextmanager
def progress_every(figures: Callable[[], dict], every_s: float = 5.0) -> Iterator[None]:
    """Write figures() as progress every every_s seconds from a thread while the block runs
    (for a measurement that is one long call)."""
    stop = threading.Event()

    def write() -> None:
        while not stop.wait(every_s):
            progress(figures())

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def hub():
    from chalicelib import wiring
    return wiring.hub()


def set_up_tenant(agency_url: str = "http://127.0.0.1:9/unused") -> None:
    """Connect the bench tenant to the Standard Webhooks source, give it mail settings and an agency."""
    the_hub = hub()
    the_hub.intake.connect_source(TENANT, SOURCE, SECRET)
    the_hub.configuration.put_settings(TENANT, SETTINGS)
    the_hub.agencies.put_agency(TENANT, AGENCY, {
        "name": "Bench Sandbox Agency", "legal_name": "Bench Sandbox Agency (sandbox)", "country": "JP",
        "endpoint": agency_url, "auth": {"type": "standard_webhooks", "secret": AGENCY_SECRET},
        "data_items": ["name", "email", "desired_roles"], "batch_size": 100, "referrals_per_slot": 10,
        "sandbox": True})


def rejection(n: int, *, days_ago: int = 0, prefix: str = "cand") -> tuple[dict, bytes]:
    """A signed Standard Webhooks delivery: candidate n rejected (headers, body)."""
    from integrations.sources import standard

    at = (datetime.now(UTC) - timedelta(days=days_ago, minutes=1)).isoformat()
    body = json.dumps({"type": "candidate.rejected", "data": {
        "person": {"id": f"{prefix}-{n}", "name": f"候補者 {n}", "email": f"{prefix}-{n}@example.jp"},
        "application_id": f"app-{prefix}-{n}", "occurred_at": at, "stage": "書類選考", "reason": "skills",
        "job": {"id": "job-1", "title": "バックエンドエンジニア"}}}, ensure_ascii=False).encode()
    return standard.sign(body, SECRET, msg_id=f"msg-{prefix}-{n}"), body


def rejections(numbers: range, **kwargs: Any) -> Iterator[tuple[dict, bytes]]:
    return (rejection(n, **kwargs) for n in numbers)


def post(client, headers: dict, body: bytes) -> dict:
    """POST one delivery through the Chalice app; the hub's receipt."""
    answer = client.http.post(f"/webhooks/{TENANT}/{SOURCE}", headers=headers, body=body)
    if answer.status_code != 202:
        raise RuntimeError(f"the webhook was answered {answer.status_code}: {answer.body[:200]!r}")
    return answer.json_body


def percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
            "n": len(ordered)}


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started
