"""The HR console at 100,000 people (issue 18 point 6): server time of the pool search by a katakana
reading prefix, a person page and the audit page, p50 and p95 over REQUESTS requests each, and the
DynamoDB requests each page makes (bench/counting.py).

Child process: `python -m bench.console <answer.json> measure [requests]`, after bench/run.py has
stored the people (the scaling step's template person, copied with names and readings of their own:
bench/population.py's NamedCloner). The child adds AUDIT_ENTRIES audit entries, opens a signed-in
session and asks for the pages through the Chalice app in process (chalice.test Client, as
bench/memory.py does): the time is the hub's whole answer (routing, session check, role check,
DynamoDB on the bench endpoint, rendering), without API Gateway or the network in front."""
from __future__ import annotations

import math
import time
from collections import Counter as Tally
from typing import Any
from urllib.parse import quote

from bench import common, counting

REQUESTS = 50                  # per page
AUDIT_ENTRIES = 300            # stored before timing (each search and person page adds one more)
TARGET_P95_MS = 300.0
PAGES = ("search", "person", "audit")
ROLE = "admin"                 # the session's group on the bench tenant: "<tenant>:admin" (viewer would do)

# Common family and given names with their katakana readings (the readings the search is asked by).
FAMILIES = (("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ"), ("田中", "タナカ"), ("伊藤", "イトウ"),
            ("渡辺", "ワタナベ"), ("山本", "ヤマモト"), ("中村", "ナカムラ"), ("小林", "コバヤシ"), ("加藤", "カトウ"),
            ("吉田", "ヨシダ"), ("山田", "ヤマダ"), ("佐々木", "ササキ"), ("山口", "ヤマグチ"), ("松本", "マツモト"),
            ("井上", "イノウエ"), ("木村", "キムラ"), ("林", "ハヤシ"), ("斎藤", "サイトウ"), ("清水", "シミズ"),
            ("山崎", "ヤマザキ"), ("森", "モリ"), ("池田", "イケダ"), ("橋本", "ハシモト"), ("阿部", "アベ"),
            ("石川", "イシカワ"), ("山下", "ヤマシタ"), ("中島", "ナカジマ"), ("石井", "イシイ"), ("小川", "オガワ"),
            ("前田", "マエダ"), ("岡田", "オカダ"), ("長谷川", "ハセガワ"), ("藤田", "フジタ"), ("後藤", "ゴトウ"),
            ("近藤", "コンドウ"), ("村上", "ムラカミ"), ("遠藤", "エンドウ"), ("青木", "アオキ"), ("坂本", "サカモト"))
GIVENS = (("翔太", "ショウタ"), ("大輔", "ダイスケ"), ("健太", "ケンタ"), ("拓也", "タクヤ"), ("直樹", "ナオキ"),
          ("陽菜", "ヒナ"), ("美咲", "ミサキ"), ("結衣", "ユイ"), ("さくら", "サクラ"), ("葵", "アオイ"),
          ("蓮", "レン"), ("悠真", "ユウマ"), ("湊", "ミナト"), ("陽翔", "ハルト"), ("颯太", "ソウタ"),
          ("恵", "メグミ"), ("由美", "ユミ"), ("裕子", "ユウコ"), ("真由美", "マユミ"), ("愛", "アイ"),
          ("誠", "マコト"), ("亮", "リョウ"), ("剛", "ツヨシ"), ("智子", "トモコ"), ("和也", "カズヤ"),
          ("花子", "ハナコ"), ("太郎", "タロウ"), ("明美", "アケミ"), ("浩二", "コウジ"), ("舞", "マイ"),
          ("彩", "アヤ"), ("優花", "ユウカ"), ("千尋", "チヒロ"), ("海斗", "カイト"), ("大和", "ヤマト"),
          ("莉子", "リコ"), ("杏", "アン"), ("瑛太", "エイタ"), ("悠人", "ユウト"), ("凛", "リン"))
# What HR types in the one search box: the first two or three kana of a family reading.
PREFIXES = ("サト", "スズキ", "タカ", "タナ", "ヤマ", "ナカ", "コバ", "ヨシ", "イノ", "ハヤ", "シミ", "イシ", "オカ", "フジ",
            "サカ", "マツ", "キム", "ハシ", "ワタ", "カト")


def name_of(n: int) -> tuple[str, str, str, str]:
    """The n-th copy's name: family, given, family reading, given reading (1,600 combinations)."""
    family, family_kana = FAMILIES[n % len(FAMILIES)]
    given, given_kana = GIVENS[(n // len(FAMILIES)) % len(GIVENS)]
    return family, given, family_kana, given_kana


def percentiles(samples_s: list[float]) -> dict[str, Any]:
    """p50 and p95 in ms by the nearest-rank method (the smallest sample with at least p% at or below it)."""
    ordered = sorted(samples_s)
    if not ordered:
        raise ValueError("no samples")

    def rank(p: int) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000, 3)

    return {"p50_ms": rank(50), "p95_ms": rank(95), "max_ms": round(ordered[-1] * 1000, 3), "n": len(ordered)}


def signed_in(hub: Any, tenant: str, role: str = ROLE) -> str:
    """A real console session in the sessions store, and the id the browser's cookie would carry.

    Made as tests/integration/test_console.py's `session_for` makes one: without Cognito, a
    ConsoleSession (the digest of a fresh 256-bit id, the identity an ID token would have given, a
    CSRF token, created and last seen now) put through the hub's sessions store, exactly what
    Console.open stores after verifying an ID token. Each request then goes through the same session
    lookup, idle-clock touch and role check as a browser's."""
    from chalicelib.domain.console import ConsoleSession, Identity, digest, new_secret
    from chalicelib.domain.events import utc

    session_id = new_secret()
    now = utc(hub.ports.clock())
    hub.ports.sessions.put(ConsoleSession(digest(session_id), Identity("sub-bench-console", "bench-hr", (f"{tenant}:{role}",)),
                                          new_secret(), now, now))
    return session_id


def store_audit_entries(hub: Any, tenant: str, count: int = AUDIT_ENTRIES) -> None:
    """A trail of count entries, as the console and the admin API write them."""
    actions = ("person.read", "people.search", "person.tags", "person.export", "people.import")
    for n in range(count):
        hub.ports.audit.record(tenant, who=f"user:sub-hr-{n % 7}", action=actions[n % len(actions)], target=f"p-{n}")


def measure_pages(client: Any, session_id: str, tenant: str, person_ids: list[str], recorder: counting.Recorder,
                  requests: int = REQUESTS) -> dict[str, dict[str, Any]]:
    """Each page `requests` times (searches rotate through PREFIXES, person pages through person_ids):
    its server time and the AWS requests it made, counted by the recorder (hooked to the hub's clients)."""
    paths = {"search": [f"/console/t/{tenant}/people?q={quote(PREFIXES[n % len(PREFIXES)])}" for n in range(requests)],
             "person": [f"/console/t/{tenant}/people/{person_ids[n % len(person_ids)]}" for n in range(requests)],
             "audit": [f"/console/t/{tenant}/audit"] * requests}
    headers = {"Cookie": f"__Host-hub-session={session_id}"}
    client.http.get(paths["audit"][0], headers=headers)  # one warm-up: templates compiled, clients built
    figures = {}
    for page in PAGES:
        samples, aws, dynamo, calls = [], [], [], Tally()
        for path in paths[page]:
            recorder.reset()
            recorder.enabled = True
            in_aws = recorder.aws_s
            started = time.perf_counter()
            answer = client.http.get(path, headers=headers)
            elapsed = time.perf_counter() - started
            aws.append(recorder.aws_s - in_aws)
            recorder.enabled = False
            if answer.status_code != 200:
                raise RuntimeError(f"{path} was answered {answer.status_code}: {answer.body[:300]!r}")
            samples.append(elapsed)
            dynamo.append((recorder.total("dynamodb"), recorder.total("dynamodb", counting.READ_OPERATIONS),
                           recorder.total("dynamodb", counting.WRITE_OPERATIONS)))
            calls.update(recorder.calls)
        figures[page] = {**percentiles(samples),
                         "aws_p50_ms": percentiles(aws)["p50_ms"], "aws_p95_ms": percentiles(aws)["p95_ms"],
                         "ddb_requests_per_page": round(sum(d[0] for d in dynamo) / len(dynamo), 2),
                         "ddb_requests_min_max": [min(d[0] for d in dynamo), max(d[0] for d in dynamo)],
                         "ddb_reads_per_page": round(sum(d[1] for d in dynamo) / len(dynamo), 2),
                         "ddb_writes_per_page": round(sum(d[2] for d in dynamo) / len(dynamo), 2),
                         "calls_per_page": {name: round(n / len(dynamo), 2) for name, n in sorted(calls.items())},
                         "example": paths[page][0]}
    return figures


def measure(mode: str = "measure", requests: str = str(REQUESTS)) -> dict:
    from chalice.test import Client

    from app import app

    if mode != "measure":
        raise SystemExit(f"unknown mode {mode!r}")
    hub = common.hub()
    store_audit_entries(hub, common.TENANT)
    session_id = signed_in(hub, common.TENANT)
    # people the searches find (the person pages open them): the first page of a few prefixes
    found = [person.person_id for prefix in PREFIXES[:5]
             for person in hub.people.find_people(common.TENANT, {"name": prefix, "limit": "10"}).people]
    if not found:
        raise RuntimeError("the search found nobody: were the named people stored?")
    with Client(app, stage_name="local") as client:
        figures = measure_pages(client, session_id, common.TENANT, found, counting.RECORDER, int(requests))
    return {"pages": figures, "requests_per_page": int(requests), "audit_entries_stored": AUDIT_ENTRIES,
            "target_p95_ms": TARGET_P95_MS}


if __name__ == "__main__":
    common.child_main(measure)
