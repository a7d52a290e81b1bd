"""A sandbox partner agency speaking the Career Relay agency API (docs/agency-api.md) on loopback.

`make run` registers it for tenant `default` (clearly named a sandbox), so the whole loop runs
on one machine; tests use it as the agency, with faults injected on demand. It verifies the
Standard Webhooks signature (or bearer token), answers a repeated Idempotency-Key with its first
answer, and answers `duplicate` for a referral_id it already has."""
from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


class SandboxAgency:
    def __init__(self, *, secret: str | None = None, token: str | None = None, decline: set[str] | None = None) -> None:
        self.secret, self.token = secret, token
        self.decline = decline or set()           # referral ids to decline
        self.faults: deque[str] = deque()         # "500", "429:<s>", "slow:<s>", "reset", "partial", "bad-json"
        self.referrals: dict[str, dict] = {}      # referral_id -> the referral as received
        self.answers: dict[str, tuple[int, bytes]] = {}  # Idempotency-Key -> first answer
        self.requests: list[dict] = []            # every request: path, key, ids, fault
        self.withdrawn: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> SandboxAgency:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def inject(self, *faults: str) -> None:
        self.faults.extend(faults)

    def _authentic(self, headers, body: bytes) -> bool:
        if self.token:
            return headers.get("Authorization") == f"Bearer {self.token}"
        try:
            Webhook(self.secret).verify(body, {k.lower(): v for k, v in headers.items()}, json_parse=False)
        except Exception:  # noqa: BLE001 - any refusal of the library
            return False
        return True

    def _handler(self):
        agency = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                """GET /referrals: what the sandbox received (for people trying the hub locally)."""
                if self.path != "/referrals":
                    return self._answer(404, b'{"error": "not found"}')
                with agency._lock:
                    body = json.dumps({"sandbox": True, "referrals": list(agency.referrals.values()),
                                       "withdrawn": agency.withdrawn}, ensure_ascii=False).encode()
                return self._answer(200, body)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key", "")
                with agency._lock:
                    fault = agency.faults.popleft() if agency.faults else ""
                ids = []
                with contextlib.suppress(ValueError, AttributeError, TypeError):
                    ids = [r["referral_id"] for r in json.loads(body).get("referrals", [])]
                agency.requests.append({"path": self.path, "key": key, "ids": ids, "fault": fault})
                if fault == "reset":  # the connection dies mid-request
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if fault.startswith("slow:"):
                    time.sleep(float(fault.split(":")[1]))
                if fault == "500":
                    return self._answer(500, b'{"error": "internal"}')
                if fault.startswith("429"):
                    return self._answer(429, b'{"error": "slow down"}', {"Retry-After": fault.split(":")[1] if ":" in fault else "1"})
                if not agency._authentic(self.headers, body):
                    return self._answer(401, b'{"error": "unauthenticated"}')
                if not key:
                    return self._answer(400, b'{"error": "Idempotency-Key required"}')
                if self.path.startswith("/referrals/") and self.path.endswith("/withdrawal"):
                    agency.withdrawn.append(self.path.split("/")[2])
                    return self._answer(200, b'{"status": "withdrawn"}')
                if self.path != "/referrals":
                    return self._answer(404, b'{"error": "not found"}')
                with agency._lock:
                    if key in agency.answers:
                        status, answer = agency.answers[key]
                    else:
                        results = []
                        for referral in json.loads(body)["referrals"]:
                            rid = referral["referral_id"]
                            if rid in agency.referrals:
                                results.append({"referral_id": rid, "status": "duplicate",
                                                "agency_ref": agency.referrals[rid]["agency_ref"]})
                                continue
                            agency.referrals[rid] = {**referral, "agency_ref": f"SBX-{len(agency.referrals) + 1}"}
                            status = "declined" if rid in agency.decline else "accepted"
                            results.append({"referral_id": rid, "status": status, "agency_ref": agency.referrals[rid]["agency_ref"]})
                        status, answer = 200, json.dumps({"results": results}).encode()
                        agency.answers[key] = (status, answer)
                if fault == "partial":  # the agency answers for half the batch only
                    results = json.loads(answer)["results"]
                    answer = json.dumps({"results": results[: len(results) // 2]}).encode()
                if fault == "bad-json":
                    answer = b"<html>oops</html>"
                return self._answer(status, answer)

        return Handler
