"""`make bench`: ingest cost, cold start, memory, scaling, agency batches, cost per 1,000
rejections and the HR console's pages at 100,000 people, measured in one run on this machine;
prints a table and writes bench/results.json.

`python -m bench.run --only console` runs the console step alone and replaces only the "console"
section of bench/results.json (and its targets and flags); the other figures stay as they were.

This process holds the embedded AWS endpoint (moto's ThreadedMotoServer on loopback, see
bench/endpoint.py); each measurement runs the hub in a child process against it.

A slower machine, or one busy with a `make test` beside, takes longer, and no step fails for that:
the run starts by timing bare PutItems (bench/slowness.py) and scales every child's time limit by
how much slower than the reference machine this one is (bare PutItem p50 2.7 ms), with headroom;
`results.json`'s `slowness` says what was measured. A step that still does not finish (its child
runs out of time, or fails) is reported, and the run goes on (bench/steps.py): `steps` gives each
step's status and duration; an unfinished step's section is `{"status": "incomplete", "reason",
"measured"}` (what its child had measured by then: webhooks replayed and peak RSS so far, referrals
received so far), its met flags are null, and the table shows it as NOT FINISHED. The run exits 0."""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench import burst, coldstart, common, console, contention, cost, endpoint, population, scaling, slowness, steps

RESULTS = common.ROOT / "bench" / "results.json"
SIZES = (1_000, 10_000, 100_000)   # people stored, for the scaling figures
DUE = 50                           # queued referrals, whatever the population
MEMORY_WEBHOOKS = 10_000
# The issue's 10,000 referrals (about 1.2 DynamoDB requests each: one grouped claim and one grouped
# settle transaction per 20-25 referrals, one read of each person for the payload);
# BENCH_AGENCY_REFERRALS overrides it for a quicker look.
AGENCY_ISSUE_REFERRALS = 10_000
AGENCY_REFERRALS = int(os.environ.get("BENCH_AGENCY_REFERRALS", str(AGENCY_ISSUE_REFERRALS)))
TARGETS = {"ingest.ratio_to_bare_put": "<= 1.5", "ingest.ddb_requests_per_new_event": "<= 2 (1 read + 1 transaction)",
           "ingest.ddb_requests_per_duplicate": "<= 1 (the check)", "cold_start.ratio": "<= 2",
           "memory.peak_rss_mb": "< 128", "scaling": "flat (the same reads at every size)",
           **{f"console.{page}.p95_ms": f"<= {console.TARGET_P95_MS:g}" for page in console.PAGES}}
NOTICE_REQUESTS_BEFORE = 13.0     # DynamoDB requests per notice before the lighter notice step (bench/counting.py)
CONSOLE_PEOPLE = int(os.environ.get("BENCH_CONSOLE_PEOPLE", "100000"))  # the issue: 100,000; lower for a quick look
ONLY = ("console", "burst")        # steps that can run alone (--only)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=ONLY, help="run this step alone; results.json keeps every other figure")
    only = parser.parse_args(argv).only
    if only == "burst":
        return run_burst_only()
    return run_console_only() if only == "console" else run_all()


def run_alone(name: str, title: str, measure: Callable[[str, dict[str, str]], dict],
              record: Callable[[dict, dict | None, float, dict[str, dict], dict], str]) -> int:
    """One step alone on its own endpoint, after the calibration; `record` puts its section (and the
    calibration) into the results read back from bench/results.json, every other figure kept, and
    names the section's duration for the last line; then the table's rows of that step."""
    started = time.perf_counter()
    server, url = endpoint.start()
    env = endpoint.client_env(url)
    done: dict[str, dict] = {}
    try:
        endpoint.scale_like_dynamodb(True)
        calibration = calibrate(url, env)
        step(title)
        figures = steps.attempt(done, name, lambda: measure(url, env))
    finally:
        server.stop()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"targets": {}, "met": {}}
    duration = record(results, figures, time.perf_counter() - started, done, calibration)
    results.setdefault("steps", {}).update(done)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_rows(burst_rows(results) if name == "burst" else console_rows(results))
    print(f"\nwritten: the {name} section of {RESULTS.relative_to(common.ROOT)} ({duration} s)")
    return 0


def run_burst_only() -> int:
    def record(results: dict, figures: dict | None, elapsed: float, done: dict[str, dict], calibration: dict) -> str:
        add_burst(results, figures, elapsed, done)
        results["burst_detail"]["slowness"] = calibration
        return str(results["burst_detail"]["duration_s"])

    return run_alone("burst", f"burst ({burst.DELIVERIES:,} rejections from {burst.SENDERS} senders, contention on; then before)",
                     measure_burst, record)


def measure_burst(url: str, env: dict[str, str]) -> dict:
    try:
        return burst.measure(url, env, fresh)
    finally:
        contention.contend(False)  # a burst that did not finish leaves the next steps an endpoint without contention


def add_burst(results: dict, figures: dict | None, elapsed: float, done: dict[str, dict], *,
              notice_from_burst: bool = True) -> None:
    """The burst section, its detail, and (alone) the notice step's requests: the burst drains 1,000 notices."""
    results["targets"] = {**results.get("targets", {}), **burst.TARGETS}
    if figures is None:
        results["burst"], results["burst_detail"] = steps.incomplete(done, "burst"), {}
        results["met"] = {**results.get("met", {}), **{f"burst.{key}": None for key in (*burst.KEYS, "before")}}
    else:
        results["burst"], results["burst_detail"] = burst.section(figures)
        results["met"] = {**results.get("met", {}), **burst.met(figures["after"])}
    results["burst_detail"].update(duration_s=round(elapsed, 1), timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
                                   machine=machine())
    ingest = results.setdefault("ingest", {})
    notice = ingest.setdefault("notice", {}) if steps.finished(ingest) else {}
    if notice_from_burst and figures is not None:
        notice["ddb_requests"] = figures["after"]["notice_ddb_requests"]
        notice["calls"] = figures["after"]["notice_calls"]
    if steps.finished(ingest):
        notice["ddb_requests_before"] = NOTICE_REQUESTS_BEFORE
    results["met"]["ingest.notice.ddb_requests"] = notice["ddb_requests"] <= 5 if "ddb_requests" in notice else None


def burst_rows(r: dict) -> list[tuple[str, Any, str, str]]:
    if "burst" not in r:
        return []
    b, met = r["burst"], r["met"]

    def flag(key: str) -> str:
        return steps.flag(met, key)

    notice = r["ingest"].get("notice", {}) if steps.finished(r.get("ingest")) else {}
    notice_row = ("notice: DynamoDB requests (before the lighter step)",
                  f"{notice.get('ddb_requests', '?')} ({notice.get('ddb_requests_before', '?')})", "<= 5",
                  flag("ingest.notice.ddb_requests"))
    if not steps.finished(b):
        return [*steps.rows("burst", b), notice_row]
    before = b["before"]
    return [
        ("burst: 5xx answers (before)", f"{b['http_5xx']} ({before['http_5xx']})", "0", flag("burst.http_5xx")),
        ("burst: accepted first time (before)", f"{b['accepted_first_time']} ({before['accepted_first_time']})", "1000",
         flag("burst.accepted_first_time")),
        ("burst: conflicts (before)", f"{b['conflicts']} ({before['conflicts']})", "", ""),
        ("burst: attempts p50 / p99 (before)", f"{b['attempts_p50']} / {b['attempts_p99']} ({before['attempts_p50']} / "
         f"{before['attempts_p99']})", "p99 <= 3", flag("burst.attempts_p99")),
        ("burst: ack p50 / p99 ms, Lambda per request (before)", f"{b['ack_p50_ms']} / {b['ack_p99_ms']} "
         f"({before['ack_p50_ms']} / {before['ack_p99_ms']})", "p99 <= 1000", flag("burst.ack_p99_ms")),
        ("burst: ack p50 / p99 ms observed on this machine (before)", f"{b.get('ack_observed_p50_ms')} / "
         f"{b.get('ack_observed_p99_ms')} ({before.get('ack_observed_p50_ms')} / {before.get('ack_observed_p99_ms')})",
         "", ""),
        ("burst: counters exact, notices exact (before)", f"{b['counters_exact']}, {b['notices_exact']} "
         f"({before['counters_exact']}, {before['notices_exact']})", "true", flag("burst.notices_exact")),
        ("burst: wall s (before)", f"{b['wall_s']} ({before['wall_s']})", "", ""),
        notice_row,
    ]


def run_console_only() -> int:
    def record(results: dict, figures: dict | None, elapsed: float, done: dict[str, dict], calibration: dict) -> str:
        results["console"] = console_section(figures, elapsed, done)
        results["console"]["slowness"] = calibration
        results["targets"] = {**results.get("targets", {}), **TARGETS}
        results["met"] = {**results.get("met", {}), **console_met(results["console"])}
        return str(results["console"]["duration_s"])

    return run_alone("console", f"console ({CONSOLE_PEOPLE:,} people)",
                     lambda url, env: measure_console(url, env, env["HUB_TABLE"]), record)


def run_all() -> int:
    started = time.perf_counter()
    server, url = endpoint.start()
    second = subprocess.Popen([sys.executable, "-m", "bench.endpoint"], cwd=common.ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    second_url = second.stdout.readline().strip()
    env = endpoint.client_env(url)
    table = env["HUB_TABLE"]
    done: dict[str, dict] = {}  # each step's status (bench/steps.py)
    answers: dict[str, Any] = {}
    try:
        endpoint.scale_like_dynamodb(True)
        calibration = calibrate(url, env)
        step("cold start")
        answers["cold_start"] = steps.attempt(done, "cold_start", lambda: coldstart.measure(env))
        step("ingest")
        answers["ingest"] = steps.attempt(done, "ingest", lambda: common.run_child(
            "ingest", fresh(url, env, HUB_NOTICE_DELAY_SECONDS="0"), "400", "patched"))
        if answers["ingest"] is not None:
            slowness.raise_to(calibration, answers["ingest"]["bare_put"]["p50_ms"])
        step("ingest (stock moto endpoint, for comparison)")
        answers["ingest_stock"] = steps.attempt(done, "ingest_stock", lambda: measure_stock(url, env))
        # The memory replay counts bytes, not seconds: it runs beside scaling and agency, against a
        # second endpoint in its own process, so the two 10,000-item replays share the two cores.
        step(f"memory ({MEMORY_WEBHOOKS:,} webhooks, beside the next steps)")
        memory_env = steps.attempt(done, "memory", lambda: fresh(  # here, not beside: it sets os.environ
            second_url, endpoint.client_env(second_url), HUB_NOTICE_DELAY_SECONDS="0"))
        memory, replay = _beside(lambda: memory_env and steps.attempt(done, "memory", lambda: common.run_child(
            "memory", memory_env, str(MEMORY_WEBHOOKS))))
        step("scaling")
        answers["scaling"] = steps.attempt(done, "scaling", lambda: measure_scaling(url, env, table))
        step(f"agency ({AGENCY_REFERRALS:,} referrals)")
        answers["agency"] = steps.attempt(done, "agency", lambda: measure_agency(url, env, table))
        replay.join()
        answers["memory"] = memory.get("answer")
        step(f"burst ({burst.DELIVERIES:,} rejections from {burst.SENDERS} senders, contention on; then before)")
        burst_started = time.perf_counter()
        bursts = steps.attempt(done, "burst", lambda: measure_burst(url, env))
        burst_s = time.perf_counter() - burst_started
        step(f"console ({CONSOLE_PEOPLE:,} people)")
        console_started = time.perf_counter()
        pages = steps.attempt(done, "console", lambda: measure_console(url, env, table))
        console_s = time.perf_counter() - console_started
    finally:
        server.stop()
        second.stdin.close()
        second.wait(timeout=common.limit_s(30))
    results = assemble(answers, done, time.perf_counter() - started)
    add_burst(results, bursts, burst_s, done, notice_from_burst=False)
    results["console"] = console_section(pages, console_s, done, stamp=False)
    results["met"].update(console_met(results["console"]))
    results["slowness"], results["steps"] = calibration, done
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_table(results)
    print(f"\nwritten: {RESULTS.relative_to(common.ROOT)} ({results['duration_s']} s)")
    return 0


def calibrate(url: str, env: dict[str, str]) -> dict:
    step("calibration (bare PutItem p50 against the reference machine's; every time limit scales with it)")
    calibration = slowness.calibrate(url, env, fresh)
    put = calibration.get("bare_put", {}).get("p50_ms")
    measured = f"bare PutItem p50 {put} ms against {slowness.REFERENCE_PUT_P50_MS} ms" if put else calibration["status"]
    print(f"  {measured}: slowness {calibration['slowness']}; a child written for 600 s gets {common.limit_s(600):.0f} s",
          flush=True)
    return calibration


def measure_stock(url: str, env: dict[str, str]) -> dict:
    endpoint.scale_like_dynamodb(False)
    try:
        return common.run_child("ingest", fresh(url, env), "100", "stock")
    finally:
        endpoint.scale_like_dynamodb(True)


def step(name: str) -> None:
    print(f"[bench] {name} ...", flush=True)


def _beside(work) -> tuple[dict, threading.Thread]:
    """Run work() in a thread; its answer (or error) lands in the dict once the thread is joined."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["answer"] = work()
        except Exception as error:  # noqa: BLE001 - re-raised in the main thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return outcome, thread


def fresh(url: str, env: dict[str, str], **extra: str) -> dict[str, str]:
    """An emptied endpoint with the hub's table and queues; the environment a child needs for it."""
    return {**env, **endpoint.reset(url, env), **extra}


def measure_scaling(url: str, env: dict[str, str], table: str) -> dict:
    from chalicelib.adapters.dynamo import keys

    child_env = fresh(url, env, HUB_NOTICE_DELAY_SECONDS="0")
    seeds = common.run_child("scaling", child_env, "seed")
    plain = population.Cloner(table, population.person_items(table, *seeds["plain"]), *seeds["plain"], prefix="pop")
    due = population.Cloner(table, population.person_items(table, *seeds["queued"]), *seeds["queued"], prefix="due")
    due.add(DUE - 1)
    stored = scaling_seeds = 1 + DUE - 1 + 30
    figures = {}
    for size in SIZES:
        plain.add(size - stored)
        stored = size
        population.delete_partition(table, keys.kpi_pk(common.TENANT))  # each run takes today's snapshot afresh
        figures[size] = common.run_child("scaling", child_env, "measure")
        print(f"  {size:>7,} people: KPI reads {figures[size]['kpi']['requests']}, "
              f"selection reads {figures[size]['selection']['requests']}", flush=True)
    return {"sizes": figures, "seed_people": scaling_seeds, "due_referrals": DUE}


def measure_agency(url: str, env: dict[str, str], table: str) -> dict:
    child_env = fresh(url, env)
    seeds = common.run_child("scaling", child_env, "seed")
    due = population.Cloner(table, population.person_items(table, *seeds["queued"]), *seeds["queued"], prefix="due")
    due.add(AGENCY_REFERRALS - 1)
    return common.run_child("agency", child_env, str(AGENCY_REFERRALS))


def measure_console(url: str, env: dict[str, str], table: str) -> dict:
    """The scaling step's template people (stored by the hub), the first of them copied up to
    CONSOLE_PEOPLE people, each with a name and reading of its own and its index items; then the
    child times the pages (bench/console.py)."""
    child_env = fresh(url, env, HUB_NOTICE_DELAY_SECONDS="0")
    seeds = common.run_child("scaling", child_env, "seed")
    named = population.NamedCloner(table, population.person_items(table, *seeds["plain"]), *seeds["plain"], prefix="pop",
                                   name_of=console.name_of)
    seeded = 1 + scaling.SEED_DAYS  # seed-0..29 and queued-0, stored by the hub
    copying = time.perf_counter()
    named.add(CONSOLE_PEOPLE - seeded)
    print(f"  {CONSOLE_PEOPLE:,} people stored ({time.perf_counter() - copying:.0f} s to copy)", flush=True)
    return common.run_child("console", child_env, "measure", str(console.REQUESTS))


def console_section(figures: dict | None, elapsed: float, done: dict[str, dict], *, stamp: bool = True) -> dict:
    if figures is None:
        return {"people": CONSOLE_PEOPLE, **steps.incomplete(done, "console"), "duration_s": round(elapsed, 1)}
    section = {"people": CONSOLE_PEOPLE, **figures,
               "people_stored": "the scaling step's template person copied with 1,600 name and reading combinations and "
                                "their index items (bench/population.py NamedCloner)",
               "time": "server time: the Chalice app in process (chalice.test Client) with a signed-in session, "
                       "DynamoDB on the patched moto endpoint (bench/endpoint.py); no API Gateway or network in front",
               "duration_s": round(elapsed, 1)}
    if stamp:
        section["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
        section["machine"] = machine()
    return section


def console_met(section: dict) -> dict[str, bool]:
    return {f"console.{page}.p95_ms": steps.judged(section, lambda page=page: section["pages"][page]["p95_ms"] <= console.TARGET_P95_MS)
            for page in console.PAGES}


def machine() -> dict:
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {"nproc": int(nproc or 0), "cpu": cpu, "python": platform.python_version(), "platform": platform.platform()}


def assemble(answers: dict[str, Any], done: dict[str, dict], elapsed: float) -> dict:
    """results.json from the steps' answers; a step that did not finish (None) gives its incomplete record."""
    def section(name: str, build: Any, *, source: str | None = None) -> dict:
        answer = answers.get(source or name)
        return build(answer) if answer is not None else steps.incomplete(done, source or name, derived=source is not None)

    results = {
        "ingest": section("ingest", lambda ingest: ingest_section(ingest, section("ingest_stock", stock_section))),
        "cold_start": section("cold_start", dict),
        "memory": section("memory", lambda memory: {"peak_rss_mb": memory["peak_rss_mb"],
                                                    **{k: v for k, v in memory.items() if k != "peak_rss_mb"}}),
        "scaling": section("scaling", scaling_section),
        "agency": section("agency", agency_section),
        "cost": section("cost", cost_section, source="ingest"),
    }
    ingest, cold, memory, scaling = (results[name] for name in ("ingest", "cold_start", "memory", "scaling"))
    results["targets"] = TARGETS
    results["met"] = {
        "ingest.ratio_to_bare_put": steps.judged(ingest, lambda: ingest["ratio_to_bare_put"] <= 1.5),
        "ingest.ddb_requests_per_new_event": steps.judged(ingest, lambda: ingest["ddb_requests_per_new_event"] <= 2),
        "ingest.ddb_requests_per_duplicate": steps.judged(ingest, lambda: ingest["ddb_requests_per_duplicate"] <= 1),
        "cold_start.ratio": steps.judged(cold, lambda: cold["ratio"] <= 2),
        "memory.peak_rss_mb": steps.judged(memory, lambda: memory["peak_rss_mb"] < 128),
        "scaling": steps.judged(scaling, lambda: len(set(scaling["kpi_reads"].values())) == 1
                                and len(set(scaling["batch_selection_reads"].values())) == 1),
    }
    results["timestamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["machine"] = machine()
    results["duration_s"] = round(elapsed, 1)
    return results


def ingest_section(ingest: dict, stock_moto: dict) -> dict:
    return {
        "ddb_requests_per_new_event": ingest["ddb_requests_per_new_event"],
        "ddb_requests_per_duplicate": ingest["ddb_requests_per_duplicate"],
        "p50_ms": ingest["webhook"]["p50_ms"], "p99_ms": ingest["webhook"]["p99_ms"],
        "ratio_to_bare_put": ingest["ratio_to_bare_put"],
        "write_units_per_new_event": ingest["write_units_per_new_event"],
        "read_units_per_new_event": ingest["read_units_per_new_event"],
        "write_units_per_duplicate": ingest["write_units_per_duplicate"],
        "read_units_per_duplicate": ingest["read_units_per_duplicate"],
        "units_method": "computed from item sizes by DynamoDB's rules (moto's ConsumedCapacity is a placeholder)",
        "calls_per_new_event": ingest["calls_per_new_event"], "calls_per_duplicate": ingest["calls_per_duplicate"],
        "bare_put": ingest["bare_put"], "bare_put_item_bytes": ingest["bare_put_item_bytes"],
        "duplicate": ingest["duplicate"], "duplicate_ratio_to_bare_put": ingest["duplicate_ratio_to_bare_put"],
        "aws_calls_per_new_event": sum(ingest["calls_per_new_event"].values()),
        "own_p50_ms": ingest["own"]["p50_ms"], "own_ratio_to_bare_put": ingest["own_ratio_to_bare_put"],
        "ratio_per_aws_call": round(ingest["ratio_to_bare_put"] / sum(ingest["calls_per_new_event"].values()), 2),
        "handler": ingest["handler"],
        "endpoint": "moto ThreadedMotoServer on loopback, patched to scale like DynamoDB (bench/endpoint.py)",
        "stock_moto": stock_moto,
        "notice": ingest["notice"],
    }


def stock_section(stock: dict) -> dict:
    return {"p50_ms": stock["webhook"]["p50_ms"], "p99_ms": stock["webhook"]["p99_ms"],
            "bare_put_p50_ms": stock["bare_put"]["p50_ms"], "ratio_to_bare_put": stock["ratio_to_bare_put"],
            "note": "moto as shipped: every transaction deep-copies the table once per action"}


def scaling_section(scaling: dict) -> dict:
    sizes = scaling["sizes"]
    return {"kpi_reads": {str(s): sizes[s]["kpi"]["requests"] for s in SIZES},
            "batch_selection_reads": {str(s): sizes[s]["selection"]["requests"] for s in SIZES},
            "kpi_read_units": {str(s): sizes[s]["kpi"]["read_units"] for s in SIZES},
            "batch_selection_read_units": {str(s): sizes[s]["selection"]["read_units"] for s in SIZES},
            "batch_selection_found": {str(s): sizes[s]["selection"]["result"] for s in SIZES},
            "due_referrals": scaling["due_referrals"],
            "people": "template people stored by the hub's own code, copied under new ids (bench/population.py)"}


def agency_section(agency: dict) -> dict:
    return {"referrals": agency["referrals"], "http_requests": agency["http_requests"], "wall_s": agency["wall_s"],
            **{k: v for k, v in agency.items() if k not in ("referrals", "http_requests", "wall_s")},
            f"estimated_wall_s_for_{AGENCY_ISSUE_REFERRALS}": round(agency["ms_per_referral"] * AGENCY_ISSUE_REFERRALS / 1000, 1),
            f"estimated_http_requests_for_{AGENCY_ISSUE_REFERRALS}": -(-AGENCY_ISSUE_REFERRALS // 100)}


def cost_section(ingest: dict) -> dict:
    price = cost.per_rejection(ingest)
    return {"usd_per_1000_rejections": price["usd_per_1000_rejections"], "prices": cost.PRICES,
            "parts_usd_per_1000": price["parts_usd_per_1000"], "per_rejection": price["inputs"],
            "formula": cost.__doc__.split("Per rejection:")[1].split("Durations")[0].strip()}


def print_table(r: dict) -> None:
    met = r["met"]

    def flag(key: str) -> str:
        return steps.flag(met, key)

    def finished(name: str, rows: Any) -> list[tuple[str, Any, str, str]]:
        return rows() if steps.finished(r[name]) else steps.rows(name, r[name])

    calibration = r.get("slowness", {})
    rows = [
        (f"slowness: bare PutItem p50 ms against {slowness.REFERENCE_PUT_P50_MS}",
         f"{calibration.get('bare_put', {}).get('p50_ms', '-')} -> x{calibration.get('slowness', '?')}", "", ""),
        *finished("ingest", lambda: [
            ("ingest: DynamoDB requests per new event", r["ingest"]["ddb_requests_per_new_event"], "<= 2",
             flag("ingest.ddb_requests_per_new_event")),
            ("ingest: DynamoDB requests per duplicate", r["ingest"]["ddb_requests_per_duplicate"], "<= 1",
             flag("ingest.ddb_requests_per_duplicate")),
            ("ingest: write units per new event", r["ingest"]["write_units_per_new_event"], "", ""),
            ("ingest: webhook p50 / p99 ms", f"{r['ingest']['p50_ms']} / {r['ingest']['p99_ms']}", "", ""),
            ("ingest: bare PutItem p50 ms", r["ingest"]["bare_put"]["p50_ms"], "", ""),
            ("ingest: ratio to bare PutItem", r["ingest"]["ratio_to_bare_put"], "<= 1.5", flag("ingest.ratio_to_bare_put")),
            ("ingest: ratio on stock moto", r["ingest"]["stock_moto"].get("ratio_to_bare_put", "not finished"), "", "")]),
        *finished("cold_start", lambda: [
            ("cold start: import app / chalice ms", f"{r['cold_start']['import_app_ms']} / {r['cold_start']['import_chalice_ms']}",
             "", ""),
            ("cold start: ratio", r["cold_start"]["ratio"], "<= 2", flag("cold_start.ratio"))]),
        *finished("memory", lambda: [
            (f"memory: peak RSS MB, {r['memory']['webhooks']:,} webhooks", r["memory"]["peak_rss_mb"], "< 128",
             flag("memory.peak_rss_mb"))]),
        *finished("scaling", lambda: [
            ("scaling: KPI reads at 1k/10k/100k", "/".join(map(str, r["scaling"]["kpi_reads"].values())), "flat", flag("scaling")),
            ("scaling: selection reads at 1k/10k/100k", "/".join(map(str, r["scaling"]["batch_selection_reads"].values())),
             "flat", flag("scaling"))]),
        *finished("agency", lambda: [
            ("agency: referrals / HTTP requests", f"{r['agency']['referrals']:,} / {r['agency']['http_requests']}", "", ""),
            ("agency: wall s", r["agency"]["wall_s"], "", "")]),
        *finished("cost", lambda: [("cost: USD per 1,000 rejections", r["cost"]["usd_per_1000_rejections"], "", "")]),
    ]
    print_rows(rows + burst_rows(r) + console_rows(r))
    m = r["machine"]
    unfinished = [name for name, record in r.get("steps", {}).items() if record["status"] != steps.OK]
    print(f"\n{r['timestamp']}  {m['nproc']} x {m['cpu']}, Python {m['python']}; "
          f"{len(r.get('steps', {})) - len(unfinished)} steps finished"
          + (f", not finished: {', '.join(unfinished)}" if unfinished else ""))


def console_rows(r: dict) -> list[tuple[str, Any, str, str]]:
    if "console" not in r:
        return []
    if not steps.finished(r["console"]):
        return steps.rows("console", r["console"])
    met, pages = r["met"], r["console"]["pages"]
    names = {"search": "console: pool search (reading prefix)", "person": "console: person page", "audit": "console: audit page"}
    rows: list[tuple[str, Any, str, str]] = []
    for page in console.PAGES:
        figures, key = pages[page], f"console.{page}.p95_ms"
        flag = steps.flag(met, key)
        rows.append((f"{names[page]} p50 / p95 ms", f"{figures['p50_ms']} / {figures['p95_ms']}",
                     f"p95 <= {console.TARGET_P95_MS:g}", flag))
        rows.append((f"{names[page]}: DynamoDB requests", figures["ddb_requests_per_page"], "", ""))
    return rows


def print_rows(rows: list[tuple[str, Any, str, str]]) -> None:
    width = max(len(row[0]) for row in rows)
    print(f"\n{'figure':<{width}}  {'value':>16}  {'target':<8}  ")
    for name, value, target, state in rows:
        print(f"{name:<{width}}  {str(value):>16}  {target:<8}  {state}")


if __name__ == "__main__":
    sys.path.insert(0, str(common.ROOT))
    os.chdir(common.ROOT)
    sys.exit(main())
