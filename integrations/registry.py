"""Every outside system the hub speaks to. The key is the vendor's slug everywhere: the URL
segment, the secret path, the fixture folder, the metric dimension."""
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
SOURCES = {m.NAME: m for m in (
    greenhouse, lever, workable, ashby, smartrecruiters, recruitee, teamtailor, merge, kombo,  # ATS and unified APIs
    bamboohr, hibob, personio, smarthr, finch,                                                 # HR systems
    standard,                                                                                   # anything else
)}
# pull: polled on a schedule with a stored cursor
POLLED = {m.NAME: m for m in (herp, freee_hr)}
# outbound: agency API clients, by the `client` of an agency's configuration
AGENCIES = {m.NAME: m for m in (career_relay,)}
