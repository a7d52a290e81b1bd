"""Agency: consented referrals sent to an agency on loopback through the real batch job (claim
transaction with the consent check, provision record, HTTP with Idempotency-Key, answer, ledger).

Child process: `python -m bench.agency <answer.json> <expected referrals>`. The sandbox agency
(tools/sandbox_agency.py) runs in this process and counts the HTTP requests it receives; every
5 s the child writes how many referrals it has received so far, so that a run that runs out
of time is reported with them (bench/common.py `progress_every`)."""
from __future__ import annotations

import time

from bench import common, counting


def run(expected: str) -> dict:
    from tools.sandbox_agency import SandboxAgency

    agency = SandboxAgency(secret=common.AGENCY_SECRET).start()
    hub = common.hub()
    recorder = counting.RECORDER
    try:
        common.set_up_tenant(agency_url=agency.url)  # the agency now points at this sandbox
        recorder.reset()
        recorder.enabled = True
        started = time.perf_counter()
        with common.progress_every(lambda: {"referrals_received_by_agency": len(agency.referrals), "of": int(expected),
                                            "http_requests": len(agency.requests),
                                            "wall_s_so_far": round(time.perf_counter() - started, 1)}):
            reports = hub.agencies.run_agency_batches(common.TENANT, max_batches=int(expected))
        wall_s = time.perf_counter() - started
        recorder.enabled = False
    finally:
        agency.stop()
    [report] = reports
    referrals = int(expected)
    return {"referrals": referrals, "sent": report["sent"], "accepted": report["accepted"],
            "batches": report["batches"], "status": report["status"],
            "http_requests": len(agency.requests), "received_by_agency": len(agency.referrals),
            "wall_s": round(wall_s, 1), "ms_per_referral": round(wall_s * 1000 / referrals, 2),
            "ddb_requests_per_referral": round(recorder.total("dynamodb") / referrals, 2),
            "calls_per_referral": {name: round(n / referrals, 3) for name, n in sorted(recorder.calls.items())}}


if __name__ == "__main__":
    common.child_main(run)
