"""Every outside system the hub speaks to. The key is the vendor's slug everywhere: the URL
segment, the secret path, the fixture folder, the metric dimension. Each map is typed by the port
its modules satisfy (chalicelib/domain/ports.py), so mypy holds every vendor module to it."""
from collections.abc import Mapping

from chalicelib.domain.oauth import OAuthClient
from chalicelib.domain.ports import EnrichedSource, FieldWriter, PolledSource, SecretFormat, SourceAdapter
from integrations.agencies import career_relay
from integrations.sources import (
    ashby,
    bamboohr,
    finch,
    freee_hr,
    greenhouse,
    herp,
    hibob,
    kombo,
    lever,
    merge,
    personio,
    recruitee,
    smarthr,
    smartrecruiters,
    standard,
    teamtailor,
    workable,
)

# push: POST /webhooks/{tenant}/{slug}
SOURCES: Mapping[str, SourceAdapter] = {m.NAME: m for m in (
    greenhouse, lever, workable, ashby, smartrecruiters, recruitee, teamtailor, merge, kombo,  # ATS and unified APIs
    bamboohr, hibob, personio, smarthr, finch,                                                 # HR systems
    standard,                                                                                   # anything else
)}
# push sources as the `local` stage verifies them (chalicelib/wiring.py picks this map there only):
# Lever also takes the hub's replay header, which signs a recorded body with no time window
LOCAL_SOURCES: Mapping[str, SourceAdapter] = {**SOURCES, lever.NAME: lever.LOCAL}
# push sources whose notices are thin: the hub fetches the facts from the vendor's API (fetch)
ENRICHED: Mapping[str, EnrichedSource] = {m.NAME: m for m in (
    ashby, bamboohr, finch, hibob, kombo, lever, merge, personio, smarthr, smartrecruiters, teamtailor,
)}
# push sources whose webhook secret has a format of its own (check_secret, new_secret)
SECRET_FORMATS: Mapping[str, SecretFormat] = {m.NAME: m for m in (standard,)}
# sources whose API takes OAuth (the client and its tokens stored in the connection's secret)
OAUTH: Mapping[str, OAuthClient] = {m.NAME: m.OAUTH for m in (freee_hr, smartrecruiters)}
# sources whose connection takes an account_token beside the api_key (a unified API's linked account)
ACCOUNT_TOKENS: frozenset[str] = frozenset(m.NAME for m in (merge,) if m.ACCOUNT_TOKEN)
# pull: polled on a schedule with a stored cursor
POLLED: Mapping[str, PolledSource] = {m.NAME: m for m in (herp, freee_hr)}
# outbound: agency API clients, by the `client` of an agency's configuration
AGENCIES = {m.NAME: m for m in (career_relay,)}
# ATS whose API lets the hub write the Career Relay link into a field their own mail can show (the
# `ats_field` delivery, docs/sources.md "The link in the ATS's own rejection mail")
FIELD_WRITERS: Mapping[str, FieldWriter] = {m.NAME: m for m in (greenhouse, ashby)}
# push sources that take the link in the webhook's answer instead (`ats_field` for them)
ANSWERED_LINKS: frozenset[str] = frozenset({standard.NAME})
