"""Each Lambda function's memory size (MB): the one place that says it. The stack
(infra/stacks/hub.py) deploys these sizes, and the bench's cost model (bench/cost.py) prices
them, so the cost figures follow the stack. Keys are app.py's function names."""
from __future__ import annotations

DEFAULT_MEMORY_MB = 256
MEMORY_MB: dict[str, int] = {name: DEFAULT_MEMORY_MB for name in (
    "api_handler", "enrich_sources", "send_notices", "write_ats_fields", "log_deliveries", "poll_sources", "release_notices",
    "send_referrals", "publish_kpis", "ses_feedback", "run_nurture", "refresh_ats_links")}


def memory_mb(function: str) -> int:
    """The memory size the stack gives app.py's function `function`."""
    return MEMORY_MB.get(function, DEFAULT_MEMORY_MB)
