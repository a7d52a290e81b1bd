"""bench/results.json (written by `make bench`, committed as the latest figures) has every figure
issue 10 names. Nothing here runs the benchmark."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results.json"
SIZES = {"1000", "10000", "100000"}
REQUIRED = {
    "ingest": {"ddb_requests_per_new_event", "ddb_requests_per_duplicate", "p50_ms", "p99_ms", "ratio_to_bare_put"},
    "cold_start": {"import_app_ms", "import_chalice_ms", "ratio"},
    "memory": {"peak_rss_mb"},
    "scaling": {"kpi_reads", "batch_selection_reads"},
    "agency": {"referrals", "http_requests", "wall_s"},
    "cost": {"usd_per_1000_rejections", "prices"},
}


def test_results_hold_every_figure_the_issue_names():
    results = json.loads(RESULTS.read_text())
    for section, keys in REQUIRED.items():
        assert keys <= set(results[section]), (section, keys - set(results[section]))
    for series in ("kpi_reads", "batch_selection_reads"):
        assert set(results["scaling"][series]) == SIZES


def test_item_sizes_follow_dynamodb_rules():
    from bench.counting import item_size

    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert item_size({"n": {"N": "12345"}}) == 1 + 4          # 3 bytes of digits + 1
    assert item_size({"m": {"M": {"a": {"BOOL": True}}}}) == 1 + 3 + 1 + 1 + 1


def test_console_percentiles_are_nearest_rank_in_ms():
    from bench.console import percentiles

    samples = [n / 1000 for n in range(100, 0, -1)]  # 1..100 ms, unsorted
    assert percentiles(samples) == {"p50_ms": 50.0, "p95_ms": 95.0, "max_ms": 100.0, "n": 100}
    assert percentiles([0.2]) == {"p50_ms": 200.0, "p95_ms": 200.0, "max_ms": 200.0, "n": 1}
    assert percentiles([0.01, 0.03])["p50_ms"] == 10.0 and percentiles([0.01, 0.03])["p95_ms"] == 30.0


def test_the_console_section_names_each_page_and_its_target():
    results = json.loads(RESULTS.read_text())
    for page in ("search", "person", "audit"):
        figures = results["console"]["pages"][page]
        assert {"p50_ms", "p95_ms", "ddb_requests_per_page"} <= set(figures)
        assert f"console.{page}.p95_ms" in results["targets"] and f"console.{page}.p95_ms" in results["met"]


BURST = {"deliveries", "senders", "accepted_first_time", "http_5xx", "conflicts", "attempts_p50", "attempts_p99",
         "ack_p50_ms", "ack_p99_ms", "counters_exact", "notices_exact", "wall_s"}
OBSERVED = {"ack_observed_p50_ms", "ack_observed_p99_ms"}  # this machine's clock, beside the modelled ack


def test_the_burst_section_has_the_issues_keys_each_with_a_target_and_a_flag():
    results = json.loads(RESULTS.read_text())
    assert set(results["burst"]) == BURST | OBSERVED | {"before"} and set(results["burst"]["before"]) == BURST | OBSERVED
    for key in (*BURST, "before"):
        assert f"burst.{key}" in results["targets"] and f"burst.{key}" in results["met"], key
    for key in OBSERVED:
        assert f"burst.{key}" in results["targets"], key
    assert "ddb_requests" in results["ingest"]["notice"]
    assert "ingest.notice.ddb_requests" in results["targets"] and "ingest.notice.ddb_requests" in results["met"]


def attempt(cpu_s: float, endpoint_s: float, held_s: float, nth: int = 1, backoff_s: float = 0.0) -> dict:
    return {"cpu_s": cpu_s, "aws_cpu_s": cpu_s / 2, "endpoint_cpu_s": endpoint_s, "held_s": held_s, "aws_s": 0.0,
            "calls": 3, "nth": nth, "backoff_s": backoff_s}


def test_the_burst_summary_counts_answers_attempts_and_exactness():
    from bench import burst

    sent = [{"results": [{"answers": [202], "ack_s": 0.1, "requests_s": [0.1], "transactions": 1,
                          "costs": [attempt(0.02, 0.03, 0.01)]},
                         {"answers": [503, 202], "ack_s": 0.5, "requests_s": [0.2, 0.1], "transactions": 4,
                          "costs": [attempt(0.02, 0.03, 0.01), attempt(0.02, 0.03, 0.01, nth=2)]}]}]
    exact = {"events.rejected": burst.DELIVERIES, "people": burst.DELIVERIES}
    settled = {"total": {**exact, "notices.sent": 2}, "days": exact, "mails_sent": 2, "drain_s": 1.0,
               "ddb_requests_per_notice": 7.0, "calls_per_notice": {}}
    figures = burst.summary(sent, settled, {"transaction_conflicts": 3, "write_conflicts": 0}, 2, 2.0, 1.0)
    assert (figures["deliveries"], figures["accepted_first_time"], figures["http_5xx"], figures["conflicts"]) == (2, 1, 1, 3)
    assert (figures["attempts_p50"], figures["attempts_p99"], figures["ack_observed_p99_ms"]) == (2.5, 4, 500.0)
    assert figures["counters_exact"] and figures["notices_exact"] is (burst.DELIVERIES == 2)


def test_the_modelled_ack_is_each_attempts_cpu_and_endpoint_time_plus_the_vendors_waits():
    from bench import burst

    # GIVEN a delivery refused once, then taken: 60 ms of the hub's and the endpoint's time per attempt
    retried = {"costs": [attempt(0.02, 0.03, 0.01), attempt(0.02, 0.03, 0.01, nth=2)]}
    # THEN its acknowledgement is both attempts and the vendor's first wait, whatever the machine's queues
    assert burst.modelled_ack_s(retried) == pytest.approx(0.06 + burst.VENDOR_RETRY_S[0] + 0.06)
    assert burst.modelled_ack_s({"costs": [attempt(0.02, 0.03, 0.01)]}, cpu_slowdown=2) == pytest.approx(0.08)
    # AND the hub's own waits between lost races count, as a Lambda waits them too
    assert burst.modelled_ack_s({"costs": [attempt(0.02, 0.03, 0.01, backoff_s=0.1)]}) == pytest.approx(0.16)
