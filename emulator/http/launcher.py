"""Start the emulator (`python -m emulator`) as a child process on a free loopback port and wait
until its health endpoint answers.

Used by `bitrix-warehouse demo` and `dev`, the tests and the benchmarks: one way to run it. The
child's output goes to a temporary file (a pipe nobody reads would block the child once full);
`output()` reads it, also after `stop()`, which removes the file.
"""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningEmulator:
    process: subprocess.Popen
    base: str  # scheme://host:port
    secret: str
    log: Path  # the child's stdout and stderr
    _stopped_output: str | None = field(default=None, repr=False)

    @property
    def webhook(self) -> str:
        return f"{self.base}/rest/1/{self.secret}/"

    def output(self) -> str:
        if self._stopped_output is not None:
            return self._stopped_output
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stopped_output = self.output()
        self.log.unlink(missing_ok=True)

    def bind_events(self, handler: str) -> str:
        """Bind `handler` to every lead and deal event (`event.bind`); returns the application
        token the handler is to verify."""
        from emulator.portal.events import EVENTS

        for event in sorted(EVENTS):
            requests.post(self.webhook + "event.bind.json", json={"event": event,
                          "handler": handler}, timeout=30, verify=False).raise_for_status()
        answer = requests.get(f"{self.base}/_emulator/events", timeout=30, verify=False)
        return answer.json()["application_token"]

    def _answers(self) -> bool:
        """Whether this emulator answers on its port. Another process's emulator can hold the
        port while this one is still starting (the port was free when picked, then taken):
        its answer names another pid, and two test workers must never share a portal."""
        with warnings.catch_warnings():  # a test certificate is self-signed
            warnings.simplefilter("ignore")
            try:
                answer = requests.get(f"{self.base}/_emulator/health", timeout=2, verify=False)
                return answer.ok and answer.json().get("pid") == self.process.pid
            except (requests.RequestException, ValueError):
                return False


def start(
    *args: str,
    secret: str | None = None,
    tls: tuple[str, str] | None = None,
    env: dict | None = None,
    timeout: float = 300,
    factory=RunningEmulator,
    **extra,
) -> RunningEmulator:
    """`args` are `python -m emulator` options; returns once the server answers."""
    port, secret = free_port(), secret or secrets.token_hex(12)
    cmd = [sys.executable, "-m", "emulator", "--port", str(port), "--secret", secret, *args]
    if tls:
        cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    fd, log = tempfile.mkstemp(prefix="emulator-", suffix=".log")
    with os.fdopen(fd, "w") as out:
        process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    running = factory(
        process, f"{'https' if tls else 'http'}://127.0.0.1:{port}", secret, Path(log), **extra
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            running.stop()
            raise RuntimeError("the emulator stopped:\n" + running.output()[-3000:])
        if running._answers():
            return running
        time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"the emulator did not start within {timeout:.0f} s")
