"""Transform: `dbt build` of `dbt_project/` against the warehouse. One function (`arguments`)
builds dbt's command line for production, the tests and the benchmarks; the manifest the Dagster
assets load is kept here too.

dbt runs in the process that asks for the build (dbt's programmatic runner: the CLI, the worker
and the Dagster job's dbt step alike), with the project parsed once per process and warehouse: a
`dbt` subprocess paid ~10 s of start-up and parsing per build, more than the SQL of a minute's
changes takes. The parsed project is also kept on disk (`dbt_project`), so a new process reads
it back instead of parsing again.
"""

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestration.pipeline import dbt_project, mart_changes, raw_changes, standing_views
from orchestration.pipeline.dbt_project import PROJECT_DIR
from orchestration.pipeline.failures import disk_full, disk_full_hint
from orchestration.pipeline.settings import Settings


class BuildFailed(Exception):
    """`dbt build` failed: a model error or an error-severity data test; `results` are dbt's
    node results (empty when dbt did not get to run a node)."""

    def __init__(self, message: str, results: list | None = None) -> None:
        super().__init__(message)
        self.results = results or []


@dataclass(frozen=True)
class Build:
    """What a dbt build runs. The routine build after a load: every model and data test. Unit
    tests check the SQL, not the data, so the every-minute build leaves them to CI (`make test`
    runs them); `data_tests=False` builds the models alone (`dbt run`), `models=False` runs the
    data tests alone (`dbt test`); `full_refresh` rebuilds the incremental models from scratch;
    `select` limits the build to those dbt selectors."""

    unit_tests: bool = False
    data_tests: bool = True
    models: bool = True
    full_refresh: bool = False
    select: tuple[str, ...] = ()

    def command(self) -> list[str]:
        args = ["test"] if not self.models else ["build"] if self.data_tests else ["run"]
        if self.data_tests and not self.unit_tests:
            args += ["--exclude-resource-type", "unit_test"]
        if self.full_refresh:
            args.append("--full-refresh")
        if self.select:
            args += ["--select", *self.select]
        return args


def dbt_vars(settings: Settings) -> dict:
    """The project's vars for a warehouse; the profile reads the warehouse's connection (all
    but a password, which `arguments` hands over as dbt's scrubbed secret) from them. `portals`:
    the registered portals, each with its raw schema and time zone (None: `portal_timezone`)."""
    out: dict = settings.warehouse.dbt_vars()
    if settings.portal_timezone:
        out["portal_timezone"] = settings.portal_timezone
    out["portals"] = [{"name": p.name, "schema": p.dataset, "timezone": p.timezone}
                      for p in settings.registry.portals()]
    return out


def arguments(settings: Settings, command: list[str], target: Path | None = None) -> list[str]:
    """The one dbt command line, for every runner: this process (`build`) and the tests' `dbt`
    subprocess. The warehouse reaches dbt as a var, never through the environment. `target`:
    where dbt writes, with its log there and nothing on stdout."""
    args = [*command, "--vars", json.dumps(dbt_vars(settings)), "--no-send-anonymous-usage-stats"]
    args += settings.warehouse.dbt_target()
    if target is not None:
        args += [
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(target.resolve()),
            "--log-path",
            str((target / "logs").resolve()),
            "--log-level",
            "none",  # nothing on this process's stdout…
            "--log-level-file",
            "info",  # …while dbt.log in the target keeps what ran and what failed
        ]
    return args


def target_of(settings: Settings) -> Path:
    """A warehouse's dbt target folder."""
    return settings.warehouse_path.parent.resolve() / "dbt_target"


@contextmanager
def _closing() -> Iterator[None]:
    """dbt-duckdb keeps its database open after a command, and a DuckDB file opened by this
    process with other settings (dlt's memory limit) then fails, so it is closed when dbt is
    done."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    try:
        yield
    finally:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
        DuckDBConnectionManager.close_all_connections()


_MANIFESTS: dict[tuple, object] = {}


def _manifest_key(settings: Settings) -> tuple:
    """A manifest serves every warehouse of that engine and database name, whatever its
    portals and zone: dbt reads the vars of each command when it compiles a model, and the
    project reads them in model and macro bodies only, never in a YAML file or a `config()`
    (which dbt would resolve once, at parse; `test_vars_are_read_only_when_models_compile`).
    A deployment that registers a portal, or a test with three, parses no more for it."""
    warehouse = settings.warehouse
    return (warehouse.name, warehouse.database, dbt_project.digest())


def _runner(**options):
    """dbt's programmatic runner, its behaviour flags repaired first."""
    from dbt.cli.main import dbtRunner

    _repair_behaviour_flags()
    return dbtRunner(**options)


def _repair_behaviour_flags() -> None:
    """Two faults of dbt's behaviour flags made every command of a long-lived process slower
    than the last:
    - dbt-adapters (1.x) appends an adapter's own flags to its module-level list of base flags
      each time a command makes the adapter: dbt-postgres adds one a command, so a worker's
      list grew by one flag a minute. It is cut back to one flag a name here.
    - dbt-common (1.39) names the module behind each flag from `inspect.stack()`, evaluated
      for every flag even when the flag names its module: that reads the source file of every
      frame on the stack and scans `sys.modules` for each, 15-26 ms a flag in a process with
      Dagster loaded. The same name is read from the frames' globals instead (only a
      behaviour-change warning shows it).
    Together: after 100 Postgres commands, each further command paid ~100 stack reads."""
    from dbt.adapters.base import impl
    from dbt_common import behavior_flags

    by_name: dict = {}
    for flag in impl.DEFAULT_BASE_BEHAVIOR_FLAGS:
        by_name.setdefault(flag["name"], flag)
    impl.DEFAULT_BASE_BEHAVIOR_FLAGS[:] = by_name.values()

    def flag_source() -> str:
        frame = sys._getframe(1)
        while frame is not None:
            name = frame.f_globals.get("__name__")
            if name != behavior_flags.__name__:
                return name or "Unknown"
            frame = frame.f_back
        return "Unknown"

    behavior_flags.BehaviorFlagRendered._default_source = staticmethod(flag_source)


def _parse(settings: Settings, target: Path):
    """Parse the project, writing `target/manifest.json`; returns the manifest."""
    parsed = _runner().invoke(arguments(settings, ["parse"], target))
    if not parsed.success:
        raise BuildFailed(f"dbt parse failed: {parsed.exception or 'see dbt.log'}")
    return parsed.result


def _manifest(settings: Settings, target: Path, key: tuple):
    """The parsed project for `key`: this process's, else the one kept on disk, else parsed
    now (and kept)."""
    if key not in _MANIFESTS:
        path = dbt_project.cache_path(key)
        manifest = dbt_project.read(path)
        if manifest is None:
            with _closing():
                manifest = _parse(settings, target)
            dbt_project.keep(path, manifest)
        _MANIFESTS[key] = manifest
    return _MANIFESTS[key]


def invoke(settings: Settings, command: list[str]):
    """Run a dbt command in this process, with the manifest kept for warehouses of this name
    and this state of the project files (parsed on the first command that needs it). The
    command writes no `manifest.json` and `run_results.json` (`--no-write-json`): its results
    come back to the caller, and writing both took ~0.8 s of a ~4 s build at demo scale;
    `dbt.log` in the target still says what ran."""
    target, key = target_of(settings), _manifest_key(settings)
    with _closing():
        args = arguments(settings, [*command, "--no-write-json"], target)
        return _runner(manifest=_manifest(settings, target, key)).invoke(args)


# What a routine build with no raw change to build still builds: what reads the run log (the
# data's "as of" moves with every run).
RUN_LOG_MODELS = ("source:ops+",)


def build(settings: Settings, what: Build = Build()) -> list:
    """Run the build; returns dbt's node results, or raises BuildFailed saying what failed.
    A routine build (every model, no selection) leaves out the views that cannot have changed
    since the last one (`standing_views`), and, when no load has marked a raw change since the
    last routine build (`raw_changes`) on the same day, builds only what reads the run log.
    A build that makes models marks the marts it may replace for the next publish
    (`mart_changes`)."""
    target, key, project_vars = target_of(settings), _manifest_key(settings), dbt_vars(settings)
    days = standing_views.days(project_vars)

    def now(con) -> str:
        return standing_views.fingerprint(con, _manifest(settings, target, key), key,
                                          project_vars, days)

    # what the build reads and marks before dbt, and after it, on one connection each
    every_view = what.models and not what.select
    marks, opened, skipping = None, None, False
    if what.models:
        with settings.warehouse.connect() as con:
            if every_view:
                marks = raw_changes.pending(con)
                kept = not what.full_refresh and standing_views.kept(target)
                skipping = bool(kept) and kept == now(con)
            opened = mart_changes.open_mark(con)
    if skipping and marks is not None and marks[0] == 0:
        command = [*what.command(), "--select", *RUN_LOG_MODELS]
    elif skipping:
        command = _without_standing_views(what, _MANIFESTS[key])
    else:
        command = what.command()
    result = invoke(settings, command)
    results = list(getattr(result.result, "results", None) or [])
    if what.models and not result.success:
        standing_views.keep(target, None)  # nothing to trust: the next build visits every view
    if opened is not None and result.exception is None:  # dbt ran to its end
        with settings.warehouse.connect() as con:
            mart_changes.narrow(con, opened, [node.node.alias for node in results
                                              if node.node.resource_type == "model"
                                              and str(node.status) != "skipped"])
            if result.success and every_view:
                if not skipping:
                    # every view visited, so made as the project says: what they are made of
                    standing_views.keep(target, now(con))
                raw_changes.consume(con, marks)  # every model built from what they marked
    if result.success:
        return results
    failures = []
    for node in results:
        if str(node.status) in ("error", "fail", "runtime error"):
            message = (node.message or "").strip().splitlines()
            failures.append(f"{node.node.name}: {message[0] if message else node.status}")
    if result.exception is not None:
        failures.append(str(result.exception).strip().splitlines()[0])
    detail = "; ".join(failures[-3:]) or "see dbt.log"
    if disk_full(detail):
        detail = f"{disk_full_hint(settings.warehouse.disk)} ({detail})"
    raise BuildFailed(f"dbt {what.command()[0]} failed: {detail}", results)


def _without_standing_views(what: Build, manifest) -> list[str]:
    """`what`'s command with every model selected but the standing views, and, when it runs
    them, every data test (dbt would leave out the tests of a model left out)."""
    skipped = {view.unique_id for view in standing_views.standing(manifest)}
    models = [node.name for uid, node in manifest.nodes.items()
              if node.resource_type == "model" and uid not in skipped]
    tests = ["resource_type:test"] if what.data_tests else []
    if what.unit_tests:
        tests.append("resource_type:unit_test")
    return [*what.command(), "--select", *tests, *models]


def ensure_manifest(settings: Settings, target: Path) -> Path:
    """The manifest `@dbt_assets` reads when the definitions load, parsed again when it is
    missing or older than any model, macro or project file (a stale manifest would silently
    describe yesterday's models)."""
    manifest = target / "manifest.json"
    if manifest.exists() and manifest.stat().st_mtime >= dbt_project.mtime():
        return manifest
    # Parsed aside, then swapped in whole: another process loading the definitions (a second
    # code server, a parallel test worker) must never read a half-written manifest.
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".parse-") as scratch, _closing():
        _parse(settings, Path(scratch))
        os.replace(Path(scratch) / "manifest.json", manifest)
    return manifest
