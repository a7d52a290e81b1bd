"""Scaling: DynamoDB reads of the KPI job and of the agency batch selection, with more people stored.

Child process: `python -m bench.scaling <answer.json> seed|measure`. `seed` stores template people
through the hub's own code (webhooks over 30 days, and one person whose relay consent queued a
referral); bench/run.py copies them into the table (bench/population.py); `measure` counts."""
from __future__ import annotations

from datetime import UTC, datetime

from bench import common, counting

SEED_DAYS = 30  # rejections spread over the KPI window: one counter item per day, as in a real month


def seed() -> dict:
    """Template people, stored through the hub: one rejected per day, and one who consented to relay."""
    from chalicelib.domain.people import new_person_id

    hub = common.hub()
    common.set_up_tenant()
    for day in range(SEED_DAYS):
        hub.intake.receive_webhook(common.TENANT, common.SOURCE, *common.rejection(day, days_ago=day, prefix="seed"))
    hub.intake.receive_webhook(common.TENANT, common.SOURCE, *common.rejection(0, prefix="queued"))
    queued = new_person_id(common.TENANT, common.SOURCE, "queued-0")
    hub.ports.relations.record_decision(common.TENANT, queued, {"relay": True, "openings": False},
                                        at=datetime.now(UTC), version="ja-bench", score=None, token_ref=None,
                                        agencies={common.AGENCY: hub.agencies.agency(common.TENANT, common.AGENCY).consent_version})
    return {"plain": [new_person_id(common.TENANT, common.SOURCE, "seed-0"), "seed-0"],
            "queued": [queued, "queued-0"]}


def measure() -> dict:
    """Reads of one KPI run and of one batch selection (the gsi1 queries that find an agency's work)."""

    hub = common.hub()
    recorder = counting.RECORDER
    recorder.detail = True

    def reads(action) -> dict:
        recorder.reset()
        recorder.enabled = True
        result = action()
        recorder.enabled = False
        return {"requests": recorder.total("dynamodb", counting.READ_OPERATIONS), "read_units": recorder.reads,
                "writes": recorder.total("dynamodb", counting.WRITE_OPERATIONS), "result": result}

    kpi = reads(lambda: hub.kpis.publish_kpis(common.TENANT)["status"])
    agency = hub.agencies.agency(common.TENANT, common.AGENCY)
    store = hub.ports.referrals

    def select() -> int:
        store.pending_withdrawals(common.TENANT, agency.slug)
        store.open_batches(common.TENANT, agency.slug)
        return len(store.queued(common.TENANT, agency.slug, agency.batch_size))

    return {"kpi": kpi, "selection": reads(select)}


def main(mode: str) -> dict:
    return seed() if mode == "seed" else measure()


if __name__ == "__main__":
    common.child_main(main)
