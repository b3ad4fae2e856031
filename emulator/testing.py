"""The emulator as tests, benchmarks and the demo drive it: the real emulator as a subprocess on a
free loopback port, and a small client for its REST and control routes."""

from dataclasses import dataclass, field

import requests

from emulator.http import launcher
from emulator.http.launcher import ROOT, RunningEmulator, free_port

__all__ = ["ROOT", "Emulator", "free_port", "make_tls", "start_emulator"]


@dataclass
class Emulator(RunningEmulator):
    """A running emulator process and helpers for its REST and control endpoints."""

    session: requests.Session = field(default_factory=requests.Session)
    verify: str | bool = True

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


def start_emulator(
    *args: str,
    secret: str = "test-secret-7f3a9c",
    tls: tuple[str, ...] | None = None,
    env: dict | None = None,
) -> Emulator:
    verify = tls[2] if tls and len(tls) > 2 else True
    return launcher.start(
        *args,
        secret=secret,
        tls=tls[:2] if tls else None,
        env=env,
        timeout=120,
        factory=Emulator,
        verify=verify,
    )


def make_tls(folder) -> tuple[str, str, str]:
    """A throwaway CA and a certificate for 127.0.0.1: (cert chain, key, CA) PEM paths, for an
    HTTPS emulator (b24pysdk speaks only HTTPS)."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = tuple(str(folder / n) for n in ("cert.pem", "key.pem", "ca.pem"))
    cert.cert_chain_pems[0].write_to_path(paths[0])
    for pem in cert.cert_chain_pems[1:]:
        pem.write_to_path(paths[0], append=True)
    cert.private_key_pem.write_to_path(paths[1])
    ca.cert_pem.write_to_path(paths[2])
    return paths
