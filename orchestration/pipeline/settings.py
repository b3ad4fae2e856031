"""The one place that reads the environment (at call time, never at import)."""

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestration.pipeline.portals import Registry
    from orchestration.pipeline.warehouse import Warehouse

DATA_DIR = Path("data")


@dataclass(frozen=True)
class Settings:
    warehouse_path: Path
    bi_path: Path
    dlt_dir: Path
    portal_timezone: str | None
    alert_webhook_url: str | None
    dagster_home: Path | None = None  # the instance the event worker reports its cycles to
    duckdb_memory_limit: str = "1GB"
    stale_after_minutes: float = 5.0
    # `duckdb` (the embedded default: the file at warehouse_path) or `postgres` (the database
    # at postgres_url, which holds the password: a secret, never logged)
    engine: str = "duckdb"
    postgres_url: str | None = None
    # load customers' names, birth dates, addresses and comments (no mart needs them; holding
    # them makes the warehouse's owner an operator of personal data under 152-ФЗ)
    load_personal_data: bool = False
    # the portals served (`orchestration.pipeline.portals`); None: portals.toml beside the
    # warehouse file. Their webhooks are kept in dlt's secrets file.
    portals_file: Path | None = None
    secrets_file: Path = Path(".dlt/secrets.toml")
    # portals a round reads at a time (each waits mostly on its portal's 2 requests a second;
    # they take turns to commit)
    parallel_loads: int = 4

    def __post_init__(self) -> None:
        self.warehouse  # noqa: B018 - an unknown engine or a missing URL fails here, at load

    @cached_property
    def warehouse(self) -> "Warehouse":
        """The engine behind these settings (`orchestration.pipeline.warehouse`)."""
        from orchestration.pipeline.warehouse import of

        return of(self)

    @property
    def registry(self) -> "Registry":
        """The portal registry, read afresh at each use: a portal added while a worker or
        Dagster runs is served from its next round."""
        from orchestration.pipeline.portals import Registry

        path = self.portals_file or self.warehouse_path.parent / "portals.toml"
        return Registry(path, self.secrets_file)


def load() -> Settings:
    env = os.environ
    warehouse = Path(env.get("WAREHOUSE_PATH") or DATA_DIR / "warehouse.duckdb")
    return Settings(
        warehouse_path=warehouse,
        bi_path=Path(env.get("BI_PATH") or DATA_DIR / "bi.duckdb"),
        # dlt's working folder (pending load packages, local state) lives beside the warehouse,
        # so a killed run's packages are found and finished by the next run.
        dlt_dir=Path(env.get("DLT_PIPELINES_DIR") or warehouse.parent / "dlt"),
        portal_timezone=env.get("PORTAL_TIMEZONE") or None,
        alert_webhook_url=env.get("ALERT_WEBHOOK_URL") or None,
        dagster_home=Path(env["DAGSTER_HOME"]) if env.get("DAGSTER_HOME") else None,
        duckdb_memory_limit=env.get("DUCKDB_MEMORY_LIMIT") or Settings.duckdb_memory_limit,
        stale_after_minutes=float(env.get("STALE_AFTER_MINUTES") or Settings.stale_after_minutes),
        engine=env.get("WAREHOUSE_ENGINE") or Settings.engine,
        postgres_url=env.get("POSTGRES_URL") or None,
        load_personal_data=_flag("LOAD_PERSONAL_DATA", env.get("LOAD_PERSONAL_DATA")),
        portals_file=Path(env["PORTALS_FILE"]) if env.get("PORTALS_FILE") else None,
        # where dlt reads secrets: .dlt/ in the working folder, or in DLT_PROJECT_DIR
        secrets_file=Path(env.get("DLT_PROJECT_DIR") or ".") / ".dlt" / "secrets.toml",
        parallel_loads=_count("PARALLEL_LOADS", env.get("PARALLEL_LOADS"),
                              Settings.parallel_loads),
    )


def _count(name: str, value: str | None, default: int) -> int:
    text = (value or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a whole number from 1 up, not {value!r}")
    return int(text)


def _flag(name: str, value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{name} must be true or false, not {value!r}")
