"""How slow this machine is, against the one the bench's limits were written on; and the limits scaled.

At the start of `make bench`, a child times bare PutItems (an item the size of the person profile
the ingest step's baseline writes, to the same patched endpoint) and takes their p50. The slowness
is that p50 over REFERENCE_PUT_P50_MS (the reference machine's, 2026-12-01), floored at 1, so no
limit is ever shorter than the one written; the ingest step's own bare PutItem p50 (400 samples)
raises it if it is higher. Every wall limit of the run (bench/common.py `run_child`'s child
timeouts, the endpoint's reset) is the reference machine's limit x slowness x HEADROOM.
A machine 4 times slower (bare PutItem p50 11 ms) gives each child 4 x 2 times its written limit.

`BENCH_SLOWNESS=<factor>` in the environment skips the calibration and uses the factor as given,
without the floor: `BENCH_SLOWNESS=0.01` makes every limit a hundredth, to see steps reported
incomplete. Child process: `python -m bench.slowness <answer.json> [puts]`."""
from __future__ import annotations

import os
from typing import Any

from bench import common

REFERENCE_PUT_P50_MS = 2.7   # bare PutItem p50 on the machine the limits were written on
HEADROOM = 2.0               # the load on the machine may grow after the calibration (a `make test` beside)
FALLBACK = 8.0               # when the calibration itself does not finish: assume a very slow machine
WARM_UP = 50
PUTS = 200
ITEM_BYTES = 466             # bench/results.json ingest.bare_put_item_bytes: the person profile's size


def factor(put_p50_ms: float) -> float:
    """This machine's slowness from its bare PutItem p50: never below 1."""
    return round(max(1.0, put_p50_ms / REFERENCE_PUT_P50_MS), 2)


def scaled(reference_s: float, slowness: float) -> float:
    """A limit written for the reference machine, on a machine `slowness` times slower."""
    return reference_s * slowness * HEADROOM


def calibrate(url: str, env: dict[str, str], fresh: Any) -> dict:
    """Measure this machine (or take BENCH_SLOWNESS as given) and set BENCH_SLOWNESS for the run and
    its children; what was measured, for results.json."""
    given = os.environ.get("BENCH_SLOWNESS")
    if given is not None:
        return {"status": "given", "slowness": float(given), "headroom": HEADROOM,
                "method": "BENCH_SLOWNESS set in the environment; not measured"}
    try:
        measured = common.run_child("slowness", fresh(url, env), str(PUTS), timeout_s=120)
        answer = {"status": "ok", **measured, "slowness": factor(measured["bare_put"]["p50_ms"])}
    except common.StepIncomplete as incomplete:
        answer = {"status": "incomplete", "reason": incomplete.reason, "slowness": FALLBACK}
    os.environ["BENCH_SLOWNESS"] = str(answer["slowness"])
    return {**answer, "reference_put_p50_ms": REFERENCE_PUT_P50_MS, "headroom": HEADROOM,
            "method": f"bare PutItem p50 of a {ITEM_BYTES}-byte item over {PUTS} puts / {REFERENCE_PUT_P50_MS} ms, "
                      f"floored at 1; every limit is the reference machine's x slowness x {HEADROOM:g}"}


def raise_to(calibration: dict, put_p50_ms: float) -> None:
    """The ingest step's bare PutItem p50 is the better sample: take it if it says slower."""
    if calibration["status"] == "given" or factor(put_p50_ms) <= calibration["slowness"]:
        return
    calibration.update(slowness=factor(put_p50_ms), raised_by_ingest_put_p50_ms=put_p50_ms)
    os.environ["BENCH_SLOWNESS"] = str(calibration["slowness"])


def measure(puts: str = str(PUTS)) -> dict:
    import boto3

    from chalicelib.adapters.dynamo import keys

    table = os.environ["HUB_TABLE"]
    dynamodb = boto3.client("dynamodb")
    item = {"sk": {"S": "PROFILE"}, "body": {"S": "x" * (ITEM_BYTES - 40)}}

    def put(n: int) -> None:
        dynamodb.put_item(TableName=table, Item={**item, "pk": {"S": keys.person_pk("bench-calibration", f"{n:06d}")}})

    for n in range(WARM_UP):
        put(n)
    samples = [common.timed(lambda n=n: put(n)) for n in range(WARM_UP, WARM_UP + int(puts))]
    return {"bare_put": common.percentiles(samples)}


if __name__ == "__main__":
    common.child_main(measure)
