"""What `make run` shows on the terminal and what it keeps in .local/hub.log (tools/local_hub.concise)."""
from __future__ import annotations

import json

from tools.local_hub import concise


def access(path: str, status: int = 200, method: str = "GET") -> str:
    return f'127.0.0.1 - - [01/Dec/2026 12:57:10] "{method} {path} HTTP/1.1" {status} -'


def test_a_request_is_one_short_line_without_its_query_string_or_page_token():
    logged, shown = concise(access("/admin/tenants/default/people?email=hanako.yamada@example.jp"))
    assert shown.endswith("GET /admin/tenants/default/people 200") and "hanako" not in logged + shown
    logged, shown = concise(access("/r/default.KZaxECA9X686fxRNuzBOONri", 200, "POST"))
    assert shown.endswith("POST /r/... 200") and "KZax" not in logged
    assert concise(access("/health")) == (access("/health"), None)  # make run's own start-up probe


def test_routine_log_lines_and_metrics_stay_in_the_log_and_warnings_and_errors_are_shown_briefly():
    info = json.dumps({"level": "INFO", "message": "request served", "route": "/health", "status": 200})
    metrics = json.dumps({"_aws": {"CloudWatchMetrics": []}, "NoticeSent": [1.0]})
    error = json.dumps({"level": "ERROR", "message": "local run failed", "function": "send_notices",
                        "error": "RetryableError", "location": "x:1", "timestamp": "..."})
    assert concise(info) == (info, None) and concise(metrics) == (metrics, None)
    logged, shown = concise(error)
    assert logged == error and shown.endswith("error: local run failed function=send_notices error=RetryableError")
    for other in ("Serving on http://127.0.0.1:8000", "/x/base.py:213: UserWarning: something", "  self.flush()"):
        assert concise(other) == (other, None)
