"""Test support: the real emulator as a subprocess on a free loopback port, and a small client."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Emulator:
    """A running emulator process and helpers for its REST and control endpoints."""

    process: subprocess.Popen
    base: str  # scheme://host:port
    secret: str
    output: list[str] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)
    verify: str | bool = True

    @property
    def webhook(self) -> str:
        return f"{self.base}/rest/1/{self.secret}/"

    # -- REST -------------------------------------------------------------------------------
    def post(self, method: str, params: dict | None = None, **kw) -> requests.Response:
        return self.session.post(
            self.webhook + method + ".json", json=params or {}, verify=self.verify, timeout=60, **kw
        )

    def call(self, method: str, params: dict | None = None) -> dict:
        response = self.post(method, params)
        body = response.json()
        assert response.status_code == 200, body
        return body

    # -- control ----------------------------------------------------------------------------
    def control(self, verb: str, path: str, body: dict | None = None) -> dict:
        response = self.session.request(
            verb, f"{self.base}/_emulator/{path}", json=body, verify=self.verify, timeout=300
        )
        assert response.status_code == 200, response.text
        return response.json()

    def reset(self, dataset: str = "empty", scale: float = 0.05, seed: int = 42) -> dict:
        self.control("DELETE", "faults")
        result = self.control("POST", "reset", {"dataset": dataset, "scale": scale, "seed": seed})
        self.control("DELETE", "stats")
        return result

    def configure(self, **settings) -> dict:
        return self.control("POST", "config", settings)

    def stats(self) -> dict:
        return self.control("GET", "stats")

    def records(self, entity: str) -> list[dict]:
        return self.control("GET", f"records/{entity}")["records"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_emulator(
    *args: str,
    secret: str = "test-secret-7f3a9c",
    tls: tuple[str, str] | None = None,
    env: dict | None = None,
) -> Emulator:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "orchestration.cli",
        "emulator",
        "--port",
        str(port),
        "--secret",
        secret,
        *args,
    ]
    scheme = "http"
    if tls:
        cmd += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        scheme = "https"
    process = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    emulator = Emulator(
        process,
        f"{scheme}://127.0.0.1:{port}",
        secret,
        verify=tls[2] if tls and len(tls) > 2 else True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("emulator exited:\n" + "".join(emulator.output))
        emulator.output.append(line)
        if line.startswith("Control:"):
            return emulator
    emulator.stop()
    raise RuntimeError("emulator did not start in time")
