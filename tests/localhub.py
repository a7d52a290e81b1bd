"""Start the real `make run` stack (tools/local_hub.py) for end-to-end and browser tests."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "e2e-admin-token"
SECRETS = {"greenhouse": "e2e-greenhouse-secret", "standard": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def local_hub(timeout_s: float = 60, **extra_env: str):
    hub_port, aws_port = free_port(), free_port()
    state = Path(tempfile.mkdtemp(prefix="local-hub-"))  # its logs and secrets, apart from other runs'
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HUB_"))}
    env.update(AWS_PORT=str(aws_port), HUB_PORT=str(hub_port), HUB_ADMIN_TOKEN=ADMIN_TOKEN, PYTHONUNBUFFERED="1",
               HUB_LOCAL_DIR=str(state),
               HUB_NOTICE_DELAY_SECONDS="0", HUB_LOCAL_SCHEDULE_SECONDS="5",
               **{f"HUB_SECRET_{name.upper()}": secret for name, secret in SECRETS.items()})
    env.update(extra_env)
    process = subprocess.Popen([sys.executable, "tools/local_hub.py"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines: list[str] = []
    ready = threading.Event()

    def pump():
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                ready.set()
    threading.Thread(target=pump, daemon=True).start()
    try:
        if not ready.wait(timeout_s):
            raise RuntimeError("the local hub did not start:\n" + "".join(lines[-40:]))
        yield {"url": f"http://127.0.0.1:{hub_port}", "aws": f"http://127.0.0.1:{aws_port}", "process": process,
               "lines": lines, "state": state}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)
