"""The notice claim's length against the function and queue it lives in (docs/notices.md): longer
than the notices function may run, so a live worker's claim never lapses under it; shorter than the
queue's visibility timeout, so the redelivery after a crash finds it lapsed."""
from __future__ import annotations

import json
from pathlib import Path

from chalicelib.adapters.resources import QUEUES
from chalicelib.domain.outbox import CLAIM_FOR

ROOT = Path(__file__).resolve().parents[2]


def test_the_claim_outlasts_the_notices_function_and_lapses_before_the_queue_redelivers():
    spec = QUEUES["notices"]
    lambda_timeout = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["aws"]["lambda_functions"][
        spec["consumer"]]["lambda_timeout"]
    assert lambda_timeout == spec["timeout_s"]
    assert spec["timeout_s"] < CLAIM_FOR.total_seconds() < 6 * spec["timeout_s"]  # the visibility timeout: 6 x timeout
