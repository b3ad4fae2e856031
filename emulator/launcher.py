"""Start the emulator as a child process on a free loopback port and wait until it serves.

Used by `bitrix-warehouse demo` and `dev`, the tests and the benchmarks: one way to run it.
"""

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningEmulator:
    process: subprocess.Popen
    base: str  # scheme://host:port
    secret: str
    output: list[str] = field(default_factory=list)

    @property
    def webhook(self) -> str:
        return f"{self.base}/rest/1/{self.secret}/"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(
    *args: str,
    secret: str | None = None,
    tls: tuple[str, str] | None = None,
    env: dict | None = None,
    timeout: float = 300,
    factory=RunningEmulator,
    **extra,
) -> RunningEmulator:
    """`args` are `bitrix-warehouse emulator` options; returns once the server has started."""
    port, secret = free_port(), secret or secrets.token_hex(12)
    cmd = [sys.executable, "-m", "orchestration.cli", "emulator", "--port", str(port)]
    cmd += ["--secret", secret, *args]
    if tls:
        cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
    process = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    running = factory(
        process, f"{'https' if tls else 'http'}://127.0.0.1:{port}", secret, **extra
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the emulator stopped:\n" + "".join(running.output[-20:]))
        running.output.append(line)
        if line.startswith("Control:"):
            return running
    running.stop()
    raise RuntimeError(f"the emulator did not start within {timeout:.0f} s")
