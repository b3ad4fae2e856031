"""Transform: `dbt build` of `dbt_project/` against the warehouse, for the CLI, the tests and the
benchmarks (the Dagster assets run the same project through dagster-dbt), and the manifest those
assets load.

dbt runs in this process (dbt's programmatic runner), with the project parsed once per process
and warehouse: a `dbt` subprocess paid ~10 s of start-up and parsing per build, more than the SQL
of a minute's changes takes.
"""

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestration.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))  # the venv's dbt, for dagster-dbt


class BuildFailed(Exception):
    """`dbt build` failed: a model error or an error-severity data test."""


def dbt_args(
    settings: Settings, *, unit_tests: bool, data_tests: bool = True, full_refresh: bool = False
) -> list[str]:
    """Arguments of the routine build after a sync. Unit tests check the SQL, not the data, so
    the every-minute build leaves them to CI (`make test` runs them). `data_tests=False` builds
    the models alone (`dbt run`); `full_refresh` rebuilds the incremental models from scratch."""
    args = ["build"] if data_tests else ["run"]
    if data_tests and not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if full_refresh:
        args.append("--full-refresh")
    if settings.portal_timezone:
        args += ["--vars", json.dumps({"portal_timezone": settings.portal_timezone})]
    return args


def _project_args(target: Path) -> list[str]:
    return [
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(target.resolve()),
        "--log-path",
        str((target / "logs").resolve()),
        "--log-level",
        "none",  # dbt.log in the target keeps the detail; nothing on this process's stdout
    ]


def _project_mtime() -> float:
    sources = [PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros"):
        sources += [p for p in (PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in sources)


@contextmanager
def _warehouse(settings: Settings) -> Iterator[None]:
    """The profile reads WAREHOUSE_PATH; dbt-duckdb keeps its database open after a command, and
    a DuckDB file opened by this process with other settings (dlt's memory limit) then fails, so
    it is closed when dbt is done."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    saved = {k: os.environ.get(k) for k in ("WAREHOUSE_PATH", "DBT_SEND_ANONYMOUS_USAGE_STATS")}
    os.environ["WAREHOUSE_PATH"] = str(settings.warehouse_path.resolve())
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    try:
        yield
    finally:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager.close_all_connections()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_MANIFESTS: dict[tuple, object] = {}


def _manifest_key(settings: Settings, vars_args: list[str]) -> tuple:
    # dbt-duckdb names the database after the file's stem; nothing else of the path is parsed
    return (settings.warehouse_path.stem, tuple(vars_args), _project_mtime())


def _parse(vars_args: list[str], target: Path):
    """Parse the project, writing `target/manifest.json`; returns the manifest."""
    from dbt.cli.main import dbtRunner

    parsed = dbtRunner().invoke(["parse", *vars_args, *_project_args(target)])
    if not parsed.success:
        raise BuildFailed(f"dbt parse failed: {parsed.exception or 'see dbt.log'}")
    return parsed.result


def _invoke(settings: Settings, args: list[str], target: Path):
    """Run a dbt command with the manifest kept for warehouses of this name, these vars and
    this state of the project files (parsed on the first command that needs it)."""
    from dbt.cli.main import dbtRunner

    vars_args = args[args.index("--vars") : args.index("--vars") + 2] if "--vars" in args else []
    key = _manifest_key(settings, vars_args)
    with _warehouse(settings):
        if key not in _MANIFESTS:
            _MANIFESTS[key] = _parse(vars_args, target)
        return dbtRunner(manifest=_MANIFESTS[key]).invoke([*args, *_project_args(target)])


def build(
    settings: Settings,
    *,
    unit_tests: bool = False,
    data_tests: bool = True,
    full_refresh: bool = False,
) -> None:
    result = _invoke(
        settings,
        dbt_args(
            settings, unit_tests=unit_tests, data_tests=data_tests, full_refresh=full_refresh
        ),
        settings.warehouse_path.parent / "dbt_target",
    )
    if result.success:
        return
    failures = []
    for node in getattr(result.result, "results", None) or []:
        if str(node.status) in ("error", "fail", "runtime error"):
            message = (node.message or "").strip().splitlines()
            failures.append(f"{node.node.name}: {message[0] if message else node.status}")
    if result.exception is not None:
        failures.append(str(result.exception).strip().splitlines()[0])
    raise BuildFailed("dbt build failed: " + ("; ".join(failures[-3:]) or "see dbt.log"))


def ensure_manifest(settings: Settings, target: Path) -> Path:
    """The manifest `@dbt_assets` reads when the definitions load, parsed again when it is
    missing or older than any model, macro or project file (a stale manifest would silently
    describe yesterday's models)."""
    manifest = target / "manifest.json"
    if manifest.exists() and manifest.stat().st_mtime >= _project_mtime():
        return manifest
    # Parsed aside, then swapped in whole: another process loading the definitions (a second
    # code server, a parallel test worker) must never read a half-written manifest.
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".parse-") as scratch, _warehouse(settings):
        _parse([], Path(scratch))
        os.replace(Path(scratch) / "manifest.json", manifest)
    return manifest
