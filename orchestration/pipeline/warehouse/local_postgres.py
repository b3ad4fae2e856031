"""A PostgreSQL server of the project's own, for the `postgres` engine's tests, demo and
benchmarks: Debian's server binaries (`apt-get install postgresql`; `make` installs them) run a
cluster kept in one folder, on a loopback port, with a random password.

A production warehouse points `POSTGRES_URL` at a server of its own instead; nothing here is
needed then.
"""

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BINARIES = Path("/usr/lib/postgresql")
USER = "postgres"


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerError(RuntimeError):
    """The local server could not be set up or started; the message says what to do."""


def bin_dir() -> Path:
    """The newest installed server's binaries."""
    found = sorted(BINARIES.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise ServerError(
            "PostgreSQL's server is not installed: `apt-get install postgresql` (or `make "
            "postgres`), or set POSTGRES_URL to a server of your own"
        )
    return found[-1].parent


@dataclass
class LocalServer:
    """A cluster in `root`, started on `start()` and stopped on `stop()`. `durable=False` (the
    tests) turns fsync off: a test's data need not survive a power cut."""

    root: Path
    durable: bool = True
    port: int = 0

    @property
    def _data(self) -> Path:
        return self.root / "data"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        # The server refuses to run as root: on a machine where we are root (CI, containers)
        # its programs run as Debian's `postgres` user, which owns the cluster.
        prefix = ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-500:]}")
        return done

    def _init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "password").write_text(secrets.token_urlsafe(24))
        (self.root / "password").chmod(0o600)
        if os.geteuid() == 0:
            shutil.chown(self.root, USER, USER)
            shutil.chown(self.root / "password", USER, USER)
        self._run(
            str(bin_dir() / "initdb"), "-D", str(self._data), "-U", USER, "--auth=scram-sha-256",
            f"--pwfile={self.root / 'password'}", "--encoding=UTF8", "--locale=C.UTF-8",
        )

    @property
    def password(self) -> str:
        return (self.root / "password").read_text().strip()

    def running(self) -> bool:
        if not (self._data / "postmaster.pid").exists():
            return False
        try:
            self._run(str(bin_dir() / "pg_ctl"), "-D", str(self._data), "status")
        except ServerError:
            return False
        return True

    def start(self) -> "LocalServer":
        """Start the server (made first if the folder has none); the port is kept in the folder,
        so a server started again, or already running, keeps its address."""
        if not (self._data / "PG_VERSION").exists():
            self._init()
        port_file = self.root / "port"
        if not self.port and port_file.exists():
            self.port = int(port_file.read_text())
        self.port = self.port or free_port()
        port_file.write_text(str(self.port))
        if self.running():
            return self
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -k {self.root} "
            "-c max_connections=200 -c shared_buffers=256MB"
            + ("" if self.durable else " -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off")
        )
        self._run(str(bin_dir() / "pg_ctl"), "-D", str(self._data), "-l",
                  str(self.root / "server.log"), "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        if (self._data / "postmaster.pid").exists():
            self._run(str(bin_dir() / "pg_ctl"), "-D", str(self._data), "-m", "fast", "-w",
                      "stop")

    def url(self, database: str = USER) -> str:
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its URL."""
        return recreate_database(self.url(), name)


def local_server() -> LocalServer:
    """The project's local server, in `data/postgres` (`make postgres`)."""
    from orchestration.pipeline.settings import DATA_DIR

    return LocalServer(DATA_DIR.resolve() / "postgres")


def _admin(url: str):
    """A connection to the server at `url`, waiting up to 30 s for one just started."""
    import psycopg2

    deadline = time.monotonic() + 30
    while True:
        try:
            con = psycopg2.connect(url)
            break
        except psycopg2.OperationalError as exc:
            starting = "starting up" in str(exc) or "Connection refused" in str(exc)
            if not starting or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    con.autocommit = True  # a database is created outside a transaction
    return con


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def ensure_database(url: str, name: str) -> str:
    """Database `name` of the server at `url`, created if missing; returns its URL."""
    from psycopg2 import sql

    con = _admin(url)
    try:
        with con.cursor() as cur:
            cur.execute("select 1 from pg_database where datname = %s", [name])
            if cur.fetchone() is None:
                cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    finally:
        con.close()
    return _with_database(url, name)


def recreate_database(url: str, name: str) -> str:
    """Drop database `name` of the server at `url` (connections to it closed) and create it
    empty; returns its URL (`url` with the database replaced)."""
    from psycopg2 import sql

    con = _admin(url)
    try:
        with con.cursor() as cur:
            cur.execute(sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(name)))
            cur.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    finally:
        con.close()
    return _with_database(url, name)
