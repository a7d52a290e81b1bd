"""`make run`: the whole hub on one machine, no cloud account.

Starts the embedded AWS endpoint (tools/embedded_aws.py: moto, patched to behave like DynamoDB
under load) on 127.0.0.1:$AWS_PORT, creates the table and queues from the definitions the code
uses, seeds tenant `default` (its settings go through the same sender registration as
PUT .../settings: moto verifies the domain at once), serves the app with `chalice local` on
127.0.0.1:$HUB_PORT, and runs the local runner for queues and schedules (tools/local_runner.py)
in a process of its own; then prints a banner and stays quiet.

Where output goes ($HUB_LOCAL_DIR, default .local/):
- aws.log: the embedded AWS endpoint's access log, a line per AWS call.
- hub.log: the hub's own output, as Lambda would hand it to CloudWatch: structured log lines and
  metrics of the API (`chalice local`) and of the queue consumers and schedules (the runner).
- the terminal: the banner, then a short line per request to the hub (query strings and page
  tokens left out) and a short line per warning or error the hub logs; nothing else.

Ctrl-C or SIGTERM stops everything it started within a few seconds (GRACE_S for the children,
then they are killed): a queue batch or scheduled job cut short is redone by its next run, and
every effect is once-only.
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import requests

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("HUB_LOCAL_DIR") or ROOT / ".local").resolve()
GRACE_S = 2.0  # after SIGTERM, how long the API and the runner have before they are killed
SAMPLE = ROOT / "tests" / "fixtures" / "sources" / "greenhouse" / "reject_candidate.json"


def local_env(aws_endpoint: str, hub_port: int) -> dict[str, str]:
    """The environment the app runs with locally (the same names infra/ sets in AWS)."""
    return {
        "AWS_ENDPOINT_URL": aws_endpoint, "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
        "HUB_STAGE": "local", "HUB_TABLE": os.environ.get("HUB_TABLE", "relations-hub-local"),
        "HUB_ADMIN_TOKEN": os.environ.get("HUB_ADMIN_TOKEN") or "local-" + secrets.token_urlsafe(18),
        "HUB_PUBLIC_URL": f"http://127.0.0.1:{hub_port}",
        "HUB_NOTICE_DELAY_SECONDS": os.environ.get("HUB_NOTICE_DELAY_SECONDS", "2"),
        "HUB_AGENCY_PARALLELISM": "1",  # the embedded moto backend is not thread-safe
        "POWERTOOLS_SERVICE_NAME": "relations-hub", "POWERTOOLS_METRICS_NAMESPACE": "RelationsHub",
    }


SANDBOX = None  # the sandbox agency on loopback, started by main()

SAMPLE_SETTINGS = {
    "company_name": "サンプル株式会社 (local)", "sender_email": "careers@example.com",
    "postal_address": "〒100-0001 東京都千代田区千代田1-1 (sample)", "contact": "careers@example.com",
    "default_locale": "ja", "mail_transport": "ses",
}


def seed_default_tenant() -> dict[str, str]:
    """Give tenant `default` sample mail settings and connect it to every webhook source; secrets
    from HUB_SECRET_<SOURCE> or fresh ones."""
    from chalicelib import wiring
    from integrations.registry import SECRET_FORMATS, SOURCES

    hub = wiring.hub()
    hub.configuration.put_settings("default", SAMPLE_SETTINGS)
    seeded = {"sandbox_agency": SANDBOX.url}
    hub.agencies.put_agency("default", "sandbox", {
        "name": "Sandbox Agency (sandbox, not a real agency)", "legal_name": "Sandbox Agency (local sandbox)",
        "country": "JP", "endpoint": SANDBOX.url, "auth": {"type": "standard_webhooks", "secret": SANDBOX.secret},
        "data_items": ["name", "email", "desired_roles"], "batch_size": 10, "referrals_per_slot": 10, "sandbox": True})
    for name in SOURCES:
        secret = os.environ.get(f"HUB_SECRET_{name.upper()}")
        if not secret:
            secret = SECRET_FORMATS[name].new_secret() if name in SECRET_FORMATS else "local-" + secrets.token_hex(16)
        hub.intake.connect_source("default", name, secret)
        seeded[name] = secret
    STATE.mkdir(exist_ok=True)
    (STATE / "secrets.json").write_text(json.dumps(seeded, indent=2))
    return seeded


def sample_command(hub_url: str, secret: str) -> str:
    """A curl command that posts a Greenhouse rejection signed with the seeded secret."""
    from integrations.sources import greenhouse

    delivery = json.loads(json.loads(SAMPLE.read_text(encoding="utf-8"))["body"])
    application = delivery["payload"]["application"]
    # rejected just now, so it earns a notice (old facts are not announced out of the blue)
    application["rejected_at"] = application["last_activity_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = json.dumps(delivery, ensure_ascii=False, indent=2).encode()
    STATE.mkdir(exist_ok=True)
    sample = STATE / "sample-rejection.json"
    sample.write_bytes(body)
    signature = greenhouse.sign(body, secret)["Signature"]
    shown = sample.relative_to(ROOT) if sample.is_relative_to(ROOT) else sample
    return (f"curl -sS -X POST {hub_url}/webhooks/default/greenhouse -H 'Content-Type: application/json' "
            f"-H 'Signature: {signature}' --data-binary @{shown}")


ACCESS_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
PAGE_TOKEN = re.compile(r"^/(r|u)/[^/?]+")
SHOWN_KEYS = ("function_name", "function", "route", "tenant", "source", "agency", "error", "code", "status")


def plain_path(path: str) -> str:
    """A request path fit for a log: no query string (it may hold an e-mail address), no page token."""
    return PAGE_TOKEN.sub(lambda m: f"/{m.group(1)}/...", path.split("?", 1)[0])


def concise(line: str) -> tuple[str, str | None]:
    """One line of the hub's output: what goes to hub.log, and the short line for the terminal
    (None: hub.log only). Access lines lose their query string and page token in both."""
    access = ACCESS_LINE.search(line)
    if access and not line.lstrip().startswith("{"):
        path = plain_path(access["path"])
        logged = line[:access.start("path")] + path + line[access.end("path"):]
        if path == "/health":
            return logged, None
        return logged, f"{time.strftime('%H:%M:%S')} {access['method']} {path} {access['status']}"
    if line.startswith("{"):
        try:
            record = json.loads(line)
        except ValueError:
            return line, None
        level = str(record.get("level", "")) if isinstance(record, dict) else ""
        if level in ("WARNING", "ERROR", "CRITICAL"):
            keys = " ".join(f"{key}={record[key]}" for key in SHOWN_KEYS if record.get(key) not in (None, ""))
            return line, f"{time.strftime('%H:%M:%S')} {level.lower()}: {record.get('message')} {keys}".rstrip()
        return line, None
    if line.startswith("Traceback"):
        return line, f"{time.strftime('%H:%M:%S')} error: the hub raised an exception (see {shown_state('hub.log')})"
    return line, None


def shown_state(name: str) -> Path:
    path = STATE / name
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


class Output:
    """The hub's output (its children's stdout and stderr): all of it to hub.log, and, once the
    banner is out, the short lines of `concise` to the terminal."""

    def __init__(self, log_path: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("w", encoding="utf-8")  # this run's (the embedded AWS starts empty too)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.recent: deque[str] = deque(maxlen=30)  # shown if start-up fails
        self.speaking = threading.Event()            # set when the banner is out

    def pump(self, stream: IO[str]) -> None:
        thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _pump(self, stream: IO[str]) -> None:
        for raw in stream:
            logged, short = concise(raw.rstrip("\n"))
            with self._lock:
                self._log.write(logged + "\n")
                self._log.flush()
                self.recent.append(logged)
                if short is not None and self.speaking.is_set():
                    print(short, flush=True)

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=1)
        with self._lock:
            self._log.close()


def wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"chalice local exited with {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the hub did not answer at {url} within {timeout_s} s")


@contextlib.contextmanager
def deaf_to_ctrl_c() -> Iterator[None]:
    """Children started inside ignore SIGINT (the disposition survives exec): a Ctrl-C reaches the
    whole process group, but only this process decides how the children stop."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def spawn(command: list[str], env: dict[str, str], output: Output) -> subprocess.Popen:
    with deaf_to_ctrl_c():
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, text=True, encoding="utf-8", errors="replace",
                                 bufsize=1)
    output.pump(child.stdout)
    return child


def stop_children(children: list[subprocess.Popen], grace_s: float = GRACE_S) -> None:
    """SIGTERM to all at once, then SIGKILL to whoever is still there after grace_s."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)


def stop_side_by_side(servers: list[Any]) -> None:
    threads = [threading.Thread(target=server.stop, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=GRACE_S)


class Stopping(BaseException):
    """SIGTERM or Ctrl-C during start-up: unwind what was started (a BaseException, as
    KeyboardInterrupt is, so that no `except Exception` on the way swallows it)."""


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tools import embedded_aws

    stop, started = threading.Event(), threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        already = stop.is_set()
        stop.set()
        if not started.is_set() and not already:
            raise Stopping

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    aws_port = int(os.environ.get("AWS_PORT", "4566"))
    hub_port = int(os.environ.get("HUB_PORT", "8000"))
    output = Output(STATE / "hub.log")
    with contextlib.ExitStack() as running:
        running.callback(lambda: print("relations hub stopped", flush=True))
        running.callback(output.close)
        try:
            servers: list[Any] = []  # in-process servers, stopped side by side (each takes up to half a second)
            running.callback(stop_side_by_side, servers)
            server, aws_endpoint = embedded_aws.start(port=aws_port, access_log=STATE / "aws.log")
            servers.append(server)
            env = local_env(aws_endpoint, hub_port)
            os.environ.update(env)

            from tools.local_aws import provision
            from tools.sandbox_agency import SandboxAgency

            global SANDBOX
            SANDBOX = SandboxAgency(secret="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()).start()
            servers.append(SANDBOX)
            queue_env = provision()
            os.environ.update(queue_env)
            env.update(queue_env)
            seeded = seed_default_tenant()
            hub_url = f"http://127.0.0.1:{hub_port}"
            from tools.local_console import create_pool

            console_env, console_users = create_pool(aws_endpoint, hub_url, STATE)
            env.update(console_env)
            child_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
            children: list[subprocess.Popen] = []
            running.callback(stop_children, children)
            chalice = spawn([str(Path(sys.executable).parent / "chalice"), "local", "--host", "127.0.0.1",
                             "--port", str(hub_port), "--stage", "local", "--no-autoreload"], child_env, output)
            children.append(chalice)
            children.append(spawn([sys.executable, "-m", "tools.local_runner"], child_env, output))
            try:
                wait_until_up(f"{hub_url}/health", chalice)
            except SystemExit:
                print("\n".join(output.recent), file=sys.stderr, flush=True)
                raise
            started.set()
            print_banner(hub_url, aws_endpoint, env["HUB_ADMIN_TOKEN"], seeded, console_users)
            output.speaking.set()
            if not supervise(stop, children):
                return 1
        except Stopping:
            pass
    return 0


def supervise(stop: threading.Event, children: list[subprocess.Popen]) -> bool:
    """Wait for SIGTERM or Ctrl-C (True); a child that dies on its own stops the hub, saying which (False)."""
    names = ("the API (chalice local)", "the runner of queues and schedules")
    while not stop.wait(0.5):
        for name, child in zip(names, children, strict=False):
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode} (see {shown_state('hub.log')}); stopping",
                      file=sys.stderr, flush=True)
                return False
    return True


def print_banner(hub_url: str, aws_endpoint: str, admin_token: str, seeded: dict[str, str], console: dict) -> None:
    lines = [
        "",
        "relations hub is running (local stage, tenant 'default')",
        f"  hub:            {hub_url}   (health: {hub_url}/health)",
        f"  AWS endpoint:   {aws_endpoint}   (moto: DynamoDB, SQS, SES, Secrets Manager, CloudWatch, Cognito)",
        f"  admin token:    {admin_token}",
        f"  source secrets: greenhouse={seeded['greenhouse']}, standard={seeded['standard']}",
        f"                  (all {len(seeded) - 1} webhook sources are connected; every secret is in {shown_state('secrets.json')})",
        f"  sandbox agency: {seeded['sandbox_agency']}/referrals   (a local stand-in for a partner agency)",
        f"  HR console:     {console['url']}   (users of the embedded pool; also in {shown_state('console-users.json')})",
        *(f"                  {u['username']:<9} {u['password']}   {u['role']}" + (f" of '{u['tenant']}'" if u['tenant'] else "")
          for u in console["users"]),
        f"  logs:           {shown_state('hub.log')} (the hub's log lines and metrics), "
        f"{shown_state('aws.log')} (the AWS endpoint's)",
        "",
        "send a signed sample rejection:",
        "  " + sample_command(hub_url, seeded["greenhouse"]),
        "read the mail it sent (with the Career Relay link):",
        f"  {sys.executable} tools/mailbox.py --endpoint {aws_endpoint}",
        "send consented referrals to the sandbox agency now (hourly on its own):",
        f"  curl -sS -X POST -H 'Authorization: Bearer {admin_token}' {hub_url}/admin/tenants/default/jobs/agency_batch",
        "then look the person up:",
        f"  curl -sS -H 'Authorization: Bearer {admin_token}' "
        f"'{hub_url}/admin/tenants/default/people?email=hector.porter.265788@example.com'",
        "",
        "Ctrl-C stops everything. Requests are listed below as they come.",
        "",
    ]
    print("\n".join(lines), flush=True)


def exit_now(code: int) -> None:
    """Leave without the interpreter's tear-down of moto's and boto's module graph (over a second
    on a busy machine): every file is closed and every stream flushed first."""
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
