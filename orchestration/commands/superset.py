"""`bitrix-warehouse bi` (`make bi`): the shipped dashboards in Apache Superset, on the BI copy.

Superset is what Bitrix24's own BI Builder is built on, so these users know it. It runs from
its own environment (`bi/.venv`, which `make bi` and `make test` make from `bi/pyproject.toml`
and `bi/uv.lock`): its pins (SQLAlchemy 1.4, Flask, pandas) would fight the pipeline's in one
venv. Its metadata database (SQLite), secret key and admin password live in `data/superset/`
beside the warehouse, made on first start and kept. Every start re-imports the dashboards
kept as code in `bi/dashboards/`, pointed at BI_PATH read-only, then serves Superset on
127.0.0.1 with gunicorn. Superset opens one read-only connection per query, so a refresh
reads the file the last publish swapped in, and never takes a lock the pipeline could meet; it
keeps chart data per published file (`bi/published_cache.py`), so opening a dashboard again
queries nothing until the next publish.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import requests

from orchestration.commands.demo import demo_settings
from orchestration.pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BI_DIR = ROOT / "bi"
BIN = BI_DIR / ".venv" / "bin"
DASHBOARDS = ("leads", "ads", "funnel", "managers", "deals")  # slugs, as in bi/dashboards/
ADMIN = "admin"
START_TIMEOUT = 180  # seconds; gunicorn imports Superset (~10 s) then builds the app


class SupersetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Superset:
    url: str
    home: Path
    password: str

    def dashboard_url(self, slug: str) -> str:
        return f"{self.url}/superset/dashboard/{slug}/"


def home(settings: Settings) -> Path:
    return settings.warehouse_path.parent / "superset"


def _kept_secret(path: Path) -> str:
    """A random value made once and kept, readable by the owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def environment(folder: Path, bi_path: Path | None = None) -> dict[str, str]:
    """Superset's environment: the caller's without the portal's settings (the webhook URL
    holds a secret Superset has no use for), plus where its metadata and key live and, for
    the server, the BI copy whose chart data it caches (`bi/published_cache.py`)."""
    env = {
        **{name: value for name, value in os.environ.items()
           if not name.startswith("SOURCES__") and name != "BI_PATH"},
        "SUPERSET_HOME": str(folder.resolve()),
        "SUPERSET_CONFIG_PATH": str(BI_DIR / "superset_config.py"),
        "SUPERSET_SECRET_KEY": _kept_secret(folder / "secret_key"),
    }
    if bi_path is not None:
        env["BI_PATH"] = str(bi_path.resolve())
    return env


def setup(settings: Settings, folder: Path) -> str:
    """Migrate Superset's metadata, create the admin, import the dashboards pointed at
    BI_PATH; the admin's password."""
    if not (BIN / "python").exists():
        raise SupersetError("Superset is not installed: run `make bi` (it installs bi/.venv).")
    if not settings.bi_path.exists():
        raise SupersetError(
            f"The BI copy {settings.bi_path} does not exist yet: run `bitrix-warehouse sync` "
            "first, or `make demo` (its copy is served while BI_PATH does not exist)."
        )
    password = _kept_secret(folder / "admin_password")
    done = subprocess.run(
        [str(BIN / "python"), str(BI_DIR / "admin.py"), "setup",
         "--bi-path", str(settings.bi_path.resolve())],
        input=password + "\n", env=environment(folder), capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SupersetError("Superset's setup failed:\n" + done.stderr[-3000:])
    return password


def client(settings: Settings, portal: str, username: str, folder: Path | None = None) -> Path:
    """A Superset login that sees only `portal`'s rows (its own role and row-level security
    filter, `bi/admin.py client`); its password is made once and kept, readable by its owner
    alone, in the file returned. Superset must have been set up (`bitrix-warehouse bi`)."""
    folder = folder or home(settings)
    if not (folder / "superset.db").exists():
        raise SupersetError("Superset is not set up yet: run `bitrix-warehouse bi` once.")
    kept = folder / "logins" / username
    kept.parent.mkdir(parents=True, exist_ok=True)
    password = _kept_secret(kept)
    done = subprocess.run(
        [str(BIN / "python"), str(BI_DIR / "admin.py"), "client", "--portal", portal,
         "--username", username],
        input=password + "\n", env=environment(folder), capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise SupersetError("Superset could not make the login: "
                            + (done.stderr.strip().splitlines() or ["no output"])[-1])
    return kept


@contextmanager
def running(settings: Settings, *, port: int, folder: Path) -> Iterator[Superset]:
    """Superset set up in `folder` and serving on 127.0.0.1:`port` until the block ends."""
    password = setup(settings, folder)
    log = (folder / "superset.log").open("ab")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "gthread", "--threads", "8", "--timeout", "120",
         "superset.app:create_app()"],
        env=environment(folder, settings.bi_path), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, server, folder / "superset.log")
        yield Superset(url, folder, password)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _wait_healthy(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SupersetError(f"Superset stopped at start; its log: {log}")
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                return
        except requests.RequestException:  # not listening yet, or still building the app
            pass
        time.sleep(0.5)
    raise SupersetError(f"Superset did not answer within {START_TIMEOUT} s; its log: {log}")


def _served(settings: Settings, echo) -> Settings:
    """BI_PATH; the demo's copy while a newcomer has run only `make demo`."""
    demo = demo_settings(settings)
    if not settings.bi_path.exists() and demo.bi_path.exists():
        echo(f"{settings.bi_path} does not exist yet: serving the demo's copy {demo.bi_path}.")
        return replace(settings, bi_path=demo.bi_path)
    return settings


def run(settings: Settings, *, port: int, echo) -> None:
    """`bitrix-warehouse bi`: serve until Ctrl-C (or SIGTERM, which stops Superset too)."""
    settings = _served(settings, echo)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    echo(f"Setting up Superset on {settings.bi_path} (~30 s)…")
    with running(settings, port=port, folder=home(settings)) as superset:
        dashboards = "\n".join(f"  {superset.dashboard_url(slug)}" for slug in DASHBOARDS)
        echo(f"""
Superset: {superset.url}   user {ADMIN}, password {superset.password}
  (kept in {superset.home / 'admin_password'})
Dashboards:
{dashboards}
They read {settings.bi_path.resolve()} and show each sync once it is published. Ctrl-C stops.""")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            echo("Stopping Superset…")
