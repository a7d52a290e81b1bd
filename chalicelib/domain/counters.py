"""Every counter the hub keeps, named once (docs/kpis.md says what each counts).

Counters are kept on write (ADD deltas in the same transaction as the change they count) in a
tenant's running total and in the item of the day the change belongs to. Writers and readers
(the KPI definitions, the admin API, the campaign stats) use these names, never literals."""
from __future__ import annotations

# people
PEOPLE = "people"
PEOPLE_OPTED_OUT = "people.opted_out"
PEOPLE_ERASED = "people.erased"


def people_role(role: str) -> str:
    return f"people.role.{role}"


# facts received
def events(kind: str) -> str:
    return f"events.{kind}"


def events_by_source(kind: str, source: str) -> str:
    return f"events.{kind}.source.{source}"


def events_by_stage(kind: str, stage_slug: str) -> str:
    return f"events.{kind}.stage.{stage_slug}"


# notices and their links
NOTICES_SENT = "notices.sent"
LINKS_OPENED = "links.opened"


def notices(status: str) -> str:
    """sent, cancelled, suppressed."""
    return f"notices.{status}"


def notices_sent(kind: str) -> str:
    return f"notices.sent.{kind}"


def by_channel(counter: str, channel: str) -> str:
    """A Career Relay funnel step through one link channel (hub_notice, invitation, ...): docs/kpis.md."""
    return f"{counter}.channel.{channel}"


# consents and the survey
def consents(purpose: str, change: str) -> str:
    """change: given, withdrawn, or active (given minus withdrawn)."""
    return f"consents.{purpose}.{change}"


CONSENTS_RELAY_GIVEN = consents("relay", "given")
SURVEY_RESPONSES = "survey.responses"
SURVEY_SCORE_SUM = "survey.score_sum"
SURVEY_PROMOTERS = "survey.promoters"
SURVEY_DETRACTORS = "survey.detractors"

# Career Relay referrals and slots
REFERRALS_SENT = "referrals.sent"
SLOTS_EARNED = "slots.earned"
SLOTS_USED = "slots.used"


def referrals(outcome: str) -> str:
    """accepted, declined."""
    return f"referrals.{outcome}"


REFERRALS_ACCEPTED = referrals("accepted")


def referrals_sent_to(agency: str) -> str:
    return f"referrals.sent.{agency}"


# an agency's slot ledger (its own item, read whole)
LEDGER_SENT = "referrals_sent"
LEDGER_ACCEPTED = "referrals_accepted"
LEDGER_DECLINED = "referrals_declined"
LEDGER_SLOTS_EARNED = "slots_earned"
LEDGER_SLOTS_USED = "slots_used"
LEDGER_HELD = "referrals_held"  # held for a new consent: consented under another version of the agency
LEDGER_FIELDS = (LEDGER_SENT, LEDGER_ACCEPTED, LEDGER_DECLINED, LEDGER_SLOTS_EARNED, LEDGER_SLOTS_USED, LEDGER_HELD)


def ledger(outcome: str) -> str:
    """The ledger field of a referral outcome (accepted, declined)."""
    return f"referrals_{outcome}"


# nurture
NURTURE_SENT = "nurture.sent"
NURTURE_DEFERRED = "nurture.deferred"
NURTURE_SKIPPED = "nurture.skipped"


def nurture_sent(template_kind: str) -> str:
    return f"nurture.sent.{template_kind}"


def nurture_skipped(reason: str) -> str:
    return f"nurture.skipped.{reason}"


def campaign_prefix(campaign: str) -> str:
    """Where one campaign's counters start: <prefix>sent, <prefix>deferred, <prefix>skipped.<reason>."""
    return f"nurture.campaign.{campaign}."


def campaign(campaign_slug: str, what: str) -> str:
    """what: sent, deferred."""
    return campaign_prefix(campaign_slug) + what


def campaign_skipped(campaign_slug: str, reason: str) -> str:
    return campaign_prefix(campaign_slug) + f"skipped.{reason}"


def campaign_stats(totals: dict[str, int], campaign_slug: str) -> dict[str, object]:
    """One campaign's counters read back: mails sent, deferrals, occurrences passed by reason."""
    skipped = campaign_skipped(campaign_slug, "")
    return {"sent": totals.get(campaign(campaign_slug, "sent"), 0),
            "deferred": totals.get(campaign(campaign_slug, "deferred"), 0),
            "skipped": {k[len(skipped):]: v for k, v in totals.items() if k.startswith(skipped) and v}}


# KPI memberships (chalicelib/domain/kpis.py derives them from a person's state)
KPI_RETAINED = "kpi.retained"


def kpi(membership: str) -> str:
    return f"kpi.{membership}"
