"""Burst: a job closed at once. 1,000 distinct rejections of one job in one tenant, sent by 100
concurrent senders to the hub on the contention endpoint (bench/contention.py: DynamoDB's
TransactionConflict), each sender retrying a 5xx on a vendor's schedule; then the notice step drained.

The parent (bench/run.py `measure_burst`) holds the endpoint and starts SENDER_PROCESSES children
`python -m bench.burst <answer.json> send <first> <count> <threads>`: each imports the hub, builds
its own connections, says it is ready, and on "go" (all at once) sends its share from THREADS
threads, each calling the Chalice app through its own LocalGateway (the route, middleware and
handler Lambda runs, minus API Gateway; one process per 25 senders, so the hub's CPU is spread over
the machine's cores as Lambdas spread it over theirs). Then `settle` drains the notices as Lambda
would (counting the DynamoDB requests of each) and reads the counters.

The vendor's retries: Greenhouse says it retries a failed webhook 7 times over about 15 hours; the
intervals here double (7, 14, 28, 57 minutes, 1.9, 3.8, 7.6 hours) and are compressed 1 hour to 1
second (VENDOR_RETRY_S). `BENCH_COUNTER_SHARDS=0` runs the hub with its counters on one item each
(the layout before counter shards: the `before` figures).

What "ack" means. `ack_p50_ms` / `ack_p99_ms` are a delivery's acknowledgement as the vendor would see
it in AWS, where each of the 100 concurrent requests runs on a Lambda of its own, modelled from what
each attempt cost:
    ack = sum over the delivery's attempts of (handler CPU + endpoint time of its AWS calls
                                               + the hub's backoff waits between lost races)
          + the vendor's waits before its retries (VENDOR_RETRY_S)
- handler CPU: time.thread_time() of the sender thread across LocalGateway.handle_request (route,
  middleware, handler, botocore's own work for the calls; `ack_parts.of_which_in_aws_calls_ms`).
  It is CPU time at one core of this machine: waiting for a core or the GIL is not in it.
- endpoint time: for each AWS call, what the contention endpoint says the call cost it
  (bench/contention.py's answer headers): the CPU time of the server thread that answered it, plus
  the service time a transaction held its items (8-25 ms). Waiting for the endpoint's lock, GIL or
  a core is not in it. moto's CPU per call (about 10-15 ms here) stands in for DynamoDB's, SQS's and
  Secrets Manager's answer times (single-digit ms in a region), so that part errs slow.
- backoff: the waits the hub draws between transaction attempts that lost a race (retry_on_race in
  chalicelib/adapters/dynamo/transaction.py), as drawn: a Lambda waits them too.
- Not in it: the queues that 100 requests in flight form on this machine's 2 cores (the sender
  threads share 4 interpreters' GILs, and the endpoint's process shares the cores), which in AWS
  would not exist; and Lambda's own CPU share (below).
`ack_observed_p50_ms` / `ack_observed_p99_ms` are this machine's clock: from a delivery's first POST
to its 2xx answer, retry waits included, queues and all. `ack_parts` (results.json's burst_detail)
has each part's p50 and p99 per attempt, the waiting the model leaves out, the first request of a
process (which builds the Secrets Manager and SQS clients) apart from the others, and the model
again with the handler's CPU slowed to the CPU share Lambda gives the API function at the memory the
stack deploys (`ack_at_deployed_cpu_ms`: one vCPU at 1,769 MB, infra/sizes.py's 256 MB about a
seventh of one).

`BENCH_BURST_PROFILE=<file>` profiles the first sender process's requests (cProfile, each thread's
profile summed into the file); such a run's figures are the profiler's, not the step's."""
from __future__ import annotations

import json
import os
import queue
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import common, counting

DELIVERIES = int(os.environ.get("BENCH_BURST_DELIVERIES", "1000"))  # the issue: 1,000; lower for a quick look
SENDERS = 100
SENDER_PROCESSES = 4
VENDOR_RETRY_S = (0.12, 0.24, 0.47, 0.95, 1.9, 3.8, 7.6)  # Greenhouse's 7 retries over ~15 h, 1 h -> 1 s
PREFIX = "burst"
SENDERS_READY_S = 300              # the senders' imports and connections, on the reference machine ...
SENDING_S = 1800                   # ... and their sending: limits scaled by the run's slowness (common.limit_s)
ONE_VCPU_MB = 1769  # Lambda's memory size that gets one full vCPU


def _shards() -> None:
    if os.environ.get("BENCH_COUNTER_SHARDS") is not None:
        from chalicelib.adapters.dynamo import counter_keys
        counter_keys.SHARDS = int(os.environ["BENCH_COUNTER_SHARDS"])


def setup() -> dict:
    common.set_up_tenant()
    return {"tenant": common.TENANT}


def send(first: str, count: str, threads: str) -> dict:
    """Send deliveries first .. first+count-1 from `threads` threads, once the parent says go."""
    from chalice.config import Config
    from chalice.local import LocalGateway

    from app import app
    from chalicelib.adapters.dynamo.models import connection

    _shards()
    _per_thread(app)
    common.hub()
    client = connection().client
    recorder = counting.RECORDER
    attempts = threading.local()

    def transaction(**_: Any) -> None:
        attempts.n = getattr(attempts, "n", 0) + 1

    client.meta.events.register("before-call.dynamodb.TransactWriteItems", transaction)
    _count_backoffs(attempts)
    work: queue.Queue[int] = queue.Queue()
    for n in range(int(first), int(first) + int(count)):
        work.put(n)
    deliveries = {n: common.rejection(n, prefix=PREFIX) for n in range(int(first), int(first) + int(count))}
    results: list[dict] = []
    lock = threading.Lock()

    profiles: list[Any] = []

    def sender() -> None:
        gateway = LocalGateway(app, Config.create(chalice_stage="local"))
        profile = _profile(first, profiles, lock)
        served = 0  # requests this sender's gateway (its "Lambda") has answered: the first is its warm-up
        while True:
            try:
                n = work.get_nowait()
            except queue.Empty:
                return
            headers, body = deliveries[n]
            attempts.n = 0
            started, answers, requests_s, refused, costs = time.perf_counter(), [], [], [], []
            for wait in (0.0, *VENDOR_RETRY_S):
                time.sleep(wait)
                in_aws = dict(recorder.thread_times())
                attempts.backoff_s = 0.0
                sent, cpu = time.perf_counter(), time.thread_time()
                if profile is not None:
                    profile.enable()
                answer = gateway.handle_request("POST", f"/webhooks/{common.TENANT}/{common.SOURCE}",
                                                {**headers, "content-type": "application/json"}, body)
                if profile is not None:
                    profile.disable()
                status = answer["statusCode"]
                requests_s.append(time.perf_counter() - sent)
                served += 1
                costs.append({"cpu_s": time.thread_time() - cpu, "nth": served, "backoff_s": attempts.backoff_s,
                              **{k: v - in_aws[k] for k, v in recorder.thread_times().items()}})
                answers.append(status)
                if status >= 500:  # the hub's error code and message (never personal data)
                    refused.append(f"{status} {json.loads(answer['body'] or '{}').get('message', '')}"[:120])
                if status < 500:
                    break
            with lock:
                results.append({"answers": answers, "ack_s": time.perf_counter() - started, "requests_s": requests_s,
                                "costs": costs, "transactions": attempts.n, "refused": refused})

    Path(sys.argv[1] + ".ready").write_text("ready")
    sys.stdin.readline()  # go: every sender process is ready
    started = time.perf_counter()
    pool = [threading.Thread(target=sender) for _ in range(int(threads))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if profiles:
        import pstats
        pstats.Stats(*profiles).dump_stats(os.environ["BENCH_BURST_PROFILE"])
    return {"results": results, "wall_s": time.perf_counter() - started}


def _count_backoffs(attempts: threading.local) -> None:
    """Add each wait the hub draws between lost transaction races (retry_on_race) to the thread's
    attempts.backoff_s: in AWS the Lambda waits as long."""
    from chalicelib.adapters.dynamo import transaction

    drawn = transaction.backoff

    def backoff(attempt: int) -> float:
        wait = drawn(attempt)
        attempts.backoff_s = getattr(attempts, "backoff_s", 0.0) + wait
        return wait

    transaction.backoff = backoff


def _profile(first: str, profiles: list[Any], lock: threading.Lock) -> Any:
    """A cProfile for this sender thread when BENCH_BURST_PROFILE names a file (the first process only:
    its threads' profiles are summed into that file; the figures of a profiled run are not the step's)."""
    if not os.environ.get("BENCH_BURST_PROFILE") or first != "0":
        return None
    import cProfile
    profile = cProfile.Profile()
    with lock:
        profiles.append(profile)
    return profile


def _per_thread(app: Any) -> None:
    """Lambda runs one invocation per process at a time; Chalice keeps the invocation's request and
    context on the app object. With 25 senders per process, each thread gets its own (as each
    Lambda has its own); without this, one thread's handler reads another's request."""
    local = threading.local()

    def attribute(name: str) -> property:
        return property(lambda self: getattr(local, name, None), lambda self, value: setattr(local, name, value))

    app.__class__ = type("PerThreadChalice", (type(app),), {"current_request": attribute("current_request"),
                                                            "lambda_context": attribute("lambda_context")})


def settle() -> dict:
    """Drain the notice queue as Lambda would (counting DynamoDB requests per notice); read the counters."""
    import boto3

    import app as app_module
    from chalicelib.adapters import resources
    from chalicelib.domain import counters
    from tools.local_runner import LocalRunner, QueueBinding

    _shards()
    hub = common.hub()
    recorder = counting.RECORDER
    spec = resources.QUEUES["notices"]
    runner = LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), retry_after_s=0,
                         queues=[QueueBinding(os.environ[resources.queue_env("notices")], spec["consumer"], spec["batch_size"])])
    recorder.reset()
    recorder.enabled = True
    started, handed, idle = time.perf_counter(), 0, 0
    while idle < 3:  # a message whose handler failed comes back after its visibility timeout (0 here)
        batch = runner.drain_once()
        handed += batch or 0
        idle = 0 if batch else idle + 1
    drain_s = time.perf_counter() - started
    recorder.enabled = False
    sent_mail = recorder.calls.get("sesv2.SendEmail", 0)
    totals = hub.ports.counters.totals(common.TENANT)
    from datetime import UTC, datetime, timedelta
    today = datetime.now(UTC).date()
    days = hub.ports.counters.days(common.TENANT, str(today - timedelta(days=1)), str(today + timedelta(days=1)))
    rejected = counters.events("rejected")
    return {"messages": handed, "drain_s": round(drain_s, 1), "mails_sent": sent_mail,
            "ddb_requests_per_notice": round(recorder.total("dynamodb") / max(sent_mail, 1), 2),
            "calls_per_notice": {k: round(v / max(sent_mail, 1), 2) for k, v in sorted(recorder.calls.items())},
            "total": {"events.rejected": totals.get(rejected, 0), "people": totals.get(counters.PEOPLE, 0),
                      "notices.sent": totals.get(counters.NOTICES_SENT, 0)},
            "days": {"events.rejected": sum(d.get(rejected, 0) for d in days.values()),
                     "people": sum(d.get(counters.PEOPLE, 0) for d in days.values())}}


def modelled_ack_s(result: dict, *, cpu_slowdown: float = 1.0) -> float:
    """A delivery's acknowledgement as the vendor would see it in AWS, where each request has a Lambda
    of its own (the model in this module's docstring): per attempt, the handler's CPU time (times
    cpu_slowdown) plus the endpoint's own time for each of its AWS calls (its CPU for the request and
    a transaction's hold) plus the hub's own waits between lost races, plus the vendor's waits before
    each retry."""
    attempts = result["costs"]
    return (sum(c["cpu_s"] * cpu_slowdown + c["endpoint_cpu_s"] + c["held_s"] + c.get("backoff_s", 0.0)
                for c in attempts)
            + sum(VENDOR_RETRY_S[:len(attempts) - 1]))


def deployed_cpu_slowdown() -> float:
    """How much slower the webhook's Lambda runs CPU work than one core: Lambda gives a function CPU in
    proportion to its memory, one vCPU at 1,769 MB (AWS's Lambda memory documentation), and the stack
    deploys the API function at infra/sizes.py's size."""
    from infra import sizes
    return max(1.0, ONE_VCPU_MB / sizes.memory_mb("api_handler"))


def _at(ordered: list[float], q: float) -> float:
    """Nearest rank (the q-th of the sorted samples)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


def _ms(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in ms."""
    ordered = sorted(samples)
    return (round(statistics.median(ordered) * 1000, 1) if ordered else 0.0, round(_at(ordered, 0.99) * 1000, 1))


def ack_parts(results: list[dict]) -> dict:
    """Where an attempt's time went (p50, p99 in ms): the model's parts and what this machine added."""
    attempts = [{**c, "wall_s": wall} for r in results for c, wall in zip(r["costs"], r["requests_s"], strict=True)]

    def part(name: str, of: list[dict] = attempts) -> tuple[float, float]:
        return _ms([a[name] for a in of])

    return {"handler_cpu_ms": part("cpu_s"), "of_which_in_aws_calls_ms": part("aws_cpu_s"),
            "endpoint_cpu_ms": part("endpoint_cpu_s"), "held_ms": part("held_s"), "backoff_ms": part("backoff_s"),
            "aws_calls": (statistics.median(a["calls"] for a in attempts) if attempts else 0,
                          _at(sorted(a["calls"] for a in attempts), 0.99)),
            "waiting_ms": _ms([a["wall_s"] - a["cpu_s"] - a["endpoint_cpu_s"] - a["held_s"] - a["backoff_s"]
                               for a in attempts]),
            "observed_ms": part("wall_s"),
            "first_request_handler_cpu_ms": part("cpu_s", [a for a in attempts if a["nth"] == 1]),
            "later_requests_handler_cpu_ms": part("cpu_s", [a for a in attempts if a["nth"] > 1]),
            "ack_at_deployed_cpu_ms": _ms([modelled_ack_s(r, cpu_slowdown=deployed_cpu_slowdown()) for r in results]),
            "deployed_cpu_slowdown": round(deployed_cpu_slowdown(), 2)}


def summary(sent: list[dict], settled: dict, conflicts: dict, mails: int, wall_s: float, send_wall_s: float) -> dict:
    """The figures the issue asks for, from every sender's results."""
    results = [r for answer in sent for r in answer["results"]]
    answers = [status for r in results for status in r["answers"]]
    transactions = sorted(r["transactions"] for r in results)
    ack_p50, ack_p99 = _ms([modelled_ack_s(r) for r in results])
    observed_p50, observed_p99 = _ms([r["ack_s"] for r in results])
    request_p50, request_p99 = _ms([s for r in results for s in r["requests_s"]])
    exact = (settled["total"]["events.rejected"] == DELIVERIES and settled["days"]["events.rejected"] == DELIVERIES
             and settled["total"]["people"] == DELIVERIES)
    return {"deliveries": len(results), "senders": SENDERS,
            "accepted_first_time": sum(1 for r in results if r["answers"][0] < 300),
            "http_5xx": sum(1 for status in answers if status >= 500),
            "unacknowledged": sum(1 for r in results if r["answers"][-1] >= 300),
            "refusals": dict(Counter(text for r in results for text in r.get("refused", ())).most_common(5)),
            "deliveries_per_s": round(len(results) / send_wall_s, 1) if send_wall_s else 0.0,
            "conflicts": conflicts["transaction_conflicts"] + conflicts["write_conflicts"],
            "conflict_items": conflicts.pop("items", {}),
            "conflicts_detail": conflicts,
            "attempts_p50": statistics.median(transactions) if transactions else 0,
            "attempts_p99": _at(transactions, 0.99),
            "ack_p50_ms": ack_p50, "ack_p99_ms": ack_p99,
            "ack_observed_p50_ms": observed_p50, "ack_observed_p99_ms": observed_p99,
            "ack_parts": ack_parts(results),
            "request_p50_ms": request_p50, "request_p99_ms": request_p99,
            "counters_exact": exact, "counters": {"total": settled["total"], "days": settled["days"]},
            "notices_exact": mails == DELIVERIES and settled["mails_sent"] == DELIVERIES,
            "notices_sent": mails, "notice_ddb_requests": settled["ddb_requests_per_notice"],
            "notice_calls": settled["calls_per_notice"],
            "send_wall_s": round(send_wall_s, 1), "drain_s": settled["drain_s"], "wall_s": round(wall_s, 1)}


def main(mode: str, *args: str) -> dict:
    if mode == "setup":
        return setup()
    if mode == "send":
        return send(*args)
    return settle()


if __name__ == "__main__":
    common.child_main(main)


# -- the parent's side (bench/run.py) ------------------------------------------------------------------

KEYS = ("deliveries", "senders", "accepted_first_time", "http_5xx", "conflicts", "attempts_p50", "attempts_p99",
        "ack_p50_ms", "ack_p99_ms", "ack_observed_p50_ms", "ack_observed_p99_ms", "counters_exact", "notices_exact",
        "wall_s")
TARGETS = {"burst.deliveries": f"{DELIVERIES}", "burst.senders": f"{SENDERS}",
           "burst.accepted_first_time": f"= deliveries ({DELIVERIES})", "burst.http_5xx": "0",
           "burst.conflicts": "any, none answered 5xx (reported: DynamoDB cancels overlapping transactions)",
           "burst.attempts_p50": "<= 3", "burst.attempts_p99": "<= 3", "burst.ack_p50_ms": "<= 1000",
           "burst.ack_p99_ms": "<= 1000",
           "burst.ack_observed_p50_ms": "none: reported beside ack_p50_ms (this machine's clock, 100 requests on 2 cores)",
           "burst.ack_observed_p99_ms": "none: reported beside ack_p99_ms (this machine's clock, 100 requests on 2 cores)",
           "burst.counters_exact": "true (TOTAL and the day = 1,000)",
           "burst.notices_exact": f"true ({DELIVERIES} mails)", "burst.wall_s": "completes (reported)",
           "burst.before": "today's counters (one item each), reported beside",
           "ingest.notice.ddb_requests": "<= 5"}


def met(after: dict) -> dict[str, bool]:
    return {"burst.deliveries": after["deliveries"] == DELIVERIES, "burst.senders": after["senders"] == SENDERS,
            "burst.accepted_first_time": after["accepted_first_time"] == DELIVERIES, "burst.http_5xx": after["http_5xx"] == 0,
            "burst.conflicts": after["http_5xx"] == 0, "burst.attempts_p50": after["attempts_p50"] <= 3,
            "burst.attempts_p99": after["attempts_p99"] <= 3, "burst.ack_p50_ms": after["ack_p50_ms"] <= 1000,
            "burst.ack_p99_ms": after["ack_p99_ms"] <= 1000, "burst.counters_exact": bool(after["counters_exact"]),
            "burst.notices_exact": bool(after["notices_exact"]), "burst.wall_s": after["deliveries"] == DELIVERIES,
            "burst.before": True}


def measure(url: str, env: dict[str, str], fresh: Any) -> dict:
    """The burst on the counters in shards, then on one item each (`before`), each on a fresh endpoint."""
    after = run_once(fresh(url, env, HUB_NOTICE_DELAY_SECONDS="0"))
    print(f"  after: {_line(after)}", flush=True)
    before = run_once(fresh(url, env, HUB_NOTICE_DELAY_SECONDS="0", BENCH_COUNTER_SHARDS="0"))
    print(f"  before (one counter item): {_line(before)}", flush=True)
    return {"after": after, "before": before}


def section(figures: dict) -> tuple[dict, dict]:
    """results.json's `burst` (the issue's keys, `before` beside them) and its detail."""
    after, before = figures["after"], figures["before"]
    burst = {**{key: after[key] for key in KEYS}, "before": {key: before[key] for key in KEYS}}
    from bench import contention
    detail = {"after": after, "before": before, "endpoint": "the embedded moto endpoint with bench/contention.py on "
              f"(a transaction holds its items {contention.SERVICE_MS[0]:g}-{contention.SERVICE_MS[1]:g} ms, uniform)",
              "senders": f"{SENDERS} threads in {SENDER_PROCESSES} processes, each calling the Chalice app through its "
                         "own LocalGateway, retrying a 5xx after " + ", ".join(f"{s:g}" for s in VENDOR_RETRY_S) + " s",
              "ack": "modelled as in AWS, a Lambda per request: per attempt the handler's CPU time (time.thread_time) "
                     "plus, for each AWS call, the endpoint's CPU for it and a transaction's hold, plus the hub's "
                     "backoff waits between lost races; plus the vendor's waits before each retry (bench/burst.py)",
              "ack_observed": "on this machine's clock, from a delivery's first POST to its 2xx, vendor waits "
                              "included: 100 requests in flight queue for 2 cores with the endpoint",
              "attempts": "TransactWriteItems requests the hub made per event, all its deliveries together"}
    return burst, detail


def _line(r: dict) -> str:
    return (f"5xx {r['http_5xx']}, first time {r['accepted_first_time']}, conflicts {r['conflicts']}, attempts p50/p99 "
            f"{r['attempts_p50']}/{r['attempts_p99']}, ack p50/p99 {r['ack_p50_ms']}/{r['ack_p99_ms']} ms (observed here "
            f"{r['ack_observed_p50_ms']}/{r['ack_observed_p99_ms']}), counters exact "
            f"{r['counters_exact']}, notices {r['notices_sent']}, {r['notice_ddb_requests']} requests a notice, {r['wall_s']} s")


def run_once(env: dict[str, str]) -> dict:
    import subprocess

    from bench import contention

    common.run_child("burst", env, "setup")
    contention.contend(True)
    share, threads = DELIVERIES // SENDER_PROCESSES, SENDERS // SENDER_PROCESSES
    answers = [common.ROOT / ".local" / f"bench-burst-send-{n}.json" for n in range(SENDER_PROCESSES)]
    children = []
    for n, answer in enumerate(answers):
        answer.unlink(missing_ok=True)
        Path(f"{answer}.ready").unlink(missing_ok=True)
        children.append(subprocess.Popen([sys.executable, "-m", "bench.burst", str(answer), "send", str(n * share),
                                          str(share), str(threads)], cwd=common.ROOT, env={**os.environ, **env},
                                         stdin=subprocess.PIPE, stdout=Path(f"{answer}.log").open("w"),  # noqa: SIM115 - the child holds it
                                         stderr=subprocess.STDOUT, text=True))
    ready_by = time.monotonic() + common.limit_s(SENDERS_READY_S)
    while not all(Path(f"{answer}.ready").exists() for answer in answers):
        if any(child.poll() is not None for child in children):
            _stop(children)
            raise common.StepIncomplete("a burst sender ended before it was ready")
        if time.monotonic() > ready_by:
            _stop(children)
            raise common.StepIncomplete(f"the burst senders were not ready in {common.limit_s(SENDERS_READY_S):.0f} s")
        time.sleep(0.05)
    started = time.perf_counter()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.close()
    limit = common.limit_s(SENDING_S)
    for child in children:
        try:
            code = child.wait(timeout=max(1.0, started + limit - time.perf_counter()))
        except subprocess.TimeoutExpired:
            _stop(children)
            raise common.StepIncomplete(f"the burst senders ran out of time ({limit:.0f} s)") from None
        if code != 0:
            _stop(children)
            raise common.StepIncomplete(f"a burst sender failed (exit {code})")
    send_wall_s = time.perf_counter() - started
    conflicts = {**contention.stats(), "items": contention.hot_items()}
    settled = common.run_child("burst", env, "settle", timeout_s=3600)
    wall_s = time.perf_counter() - started
    contention.contend(False)
    sent = [json.loads(answer.read_text()) for answer in answers]
    return summary(sent, settled, conflicts, _mails(), wall_s, send_wall_s)


def _stop(children: list) -> None:
    """End every sender still running (a step that stops leaves no process behind)."""
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait()


def _mails() -> int:
    """The mails the endpoint's SES accepted since its reset (this process holds the endpoint)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from tools.embedded_aws import REGION

    return len(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)
