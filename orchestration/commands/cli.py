"""`bitrix-warehouse`: the project's command line.

Commands import their machinery lazily, so `bitrix-warehouse emulator` does not pay for loading
dlt, dbt and Dagster.
"""

import click

from emulator.http.cli import emulator
from orchestration.commands.portals import portals
from orchestration.pipeline.warehouse import ENGINES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of an error.")
def main(verbose: bool) -> None:
    """Bitrix24 CRM → DuckDB warehouse: incremental sync, marts, and a local portal emulator."""


main.add_command(emulator)
main.add_command(portals)


def _fail(exc: BaseException) -> None:
    """A clear one-line error and a hint, exit 1; the traceback only under `--verbose`, and never
    the webhook secret."""
    from dlt.common.configuration.exceptions import ConfigFieldMissingException

    from orchestration.pipeline.failures import disk_full
    from orchestration.pipeline.operations import PortalsFailed
    from orchestration.pipeline.portals import PortalError
    from sources.bitrix24.errors import BitrixError, redact_webhooks

    if click.get_current_context().find_root().params.get("verbose"):
        import traceback

        click.echo(redact_webhooks("".join(traceback.format_exception(exc))), err=True)
    cause = exc  # dlt wraps the source's error in its step and extraction errors
    while not isinstance(cause, (BitrixError, ConfigFieldMissingException)) and cause.__cause__:
        cause = cause.__cause__
    hint = "run again with --verbose for the traceback"
    if isinstance(cause, PortalsFailed):
        message = str(cause)
        hint = ("the other portals were loaded, built and published; check the failed ones' "
                "webhooks (`bitrix-warehouse portals list`)")
    elif isinstance(cause, PortalError):
        message = str(cause)
        hint = "`bitrix-warehouse portals list` shows the registry"
    elif isinstance(cause, ConfigFieldMissingException):
        message = "the portal's webhook URL is not set"
        hint = ("export SOURCES__BITRIX24__WEBHOOK_URL=https://<portal>/rest/<user id>/<secret>/ "
                "or put webhook_url under [sources.bitrix24] in .dlt/secrets.toml")
    elif isinstance(cause, BitrixError):
        message = str(cause)
    else:
        text = str(cause).strip()
        message = f"{type(cause).__name__}: {text.splitlines()[0] if text else ''}"
        if disk_full(exc):
            hint = "free space on that disk (or move the warehouse to a larger one) and run again"
        elif "Could not set lock" in text:
            hint = ("another process holds the warehouse (a running sync, or a tool that opened "
                    "WAREHOUSE_PATH): BI tools should read BI_PATH instead")
    raise click.ClickException(f"{redact_webhooks(message)}\n  hint: {hint}")


@main.command()
@click.option("--scale", type=click.FloatRange(0, 100, min_open=True), default=0.5,
              show_default=True, help="Size of the demo company (1 ≈ 600 leads/day).")
@click.option("--engine", type=click.Choice(list(ENGINES)), default=None,
              help="The warehouse engine (default: WAREHOUSE_ENGINE, else duckdb); postgres "
                   "without POSTGRES_URL uses the local server (`make postgres`).")
@click.option("--portals", type=click.IntRange(1, 3), default=1, show_default=True,
              help="How many portals, in three time zones, each its own emulator and company.")
def demo(scale: float, engine: str | None, portals: int) -> None:
    """Run the emulator with demo data, sync it, build the marts, and show what they say."""
    from orchestration.commands import demo as demo_run
    from orchestration.pipeline import settings

    try:
        demo_run.run(settings.load(), scale, click.echo, engine=engine, portals=portals)
    except Exception as exc:  # every failure becomes one clear line
        _fail(exc)


def _load(what, portals: tuple[str, ...] = (), *, rebuild: bool = True):
    """Run an operation on the `portals` named (default: every registered one): load, then
    build and publish unless `rebuild` is off; say what it did and return its cycle."""
    from orchestration.pipeline import operations, settings

    try:
        config = settings.load()
        chosen = [config.registry.get(name) for name in portals] or None
        cycle = operations.run(
            config, what, portals=chosen, rebuild=rebuild, progress=True, echo=click.echo
        )
    except Exception as exc:  # every failure becomes one clear line
        _fail(exc)
    click.echo(cycle.describe())
    return cycle


def _request(mode: str, **options):
    from orchestration.pipeline import operations

    try:
        return operations.request(mode, **options)
    except operations.InvalidRequest as exc:
        raise click.UsageError(str(exc)) from None


_NO_BUILD = click.option(
    "--no-build", is_flag=True, help="Extract and load only; skip dbt and publishing."
)
_PORTAL = click.option(
    "--portal", "portals", multiple=True, metavar="NAME",
    help="Only this registered portal (repeatable); default: every one."
)


@main.command()
@_PORTAL
@_NO_BUILD
def sync(portals: tuple[str, ...], no_build: bool) -> None:
    """One incremental cycle: extract the changes, load, build the marts, publish BI_PATH."""
    click.echo("Syncing the portal's changes…")
    _load(_request("sync"), portals, rebuild=not no_build)


@main.command()
@click.option("--since", required=True, help="First day of the window (YYYY-MM-DD, portal time).")
@click.option("--until", default=None, help="Day after the window (exclusive); default: today.")
@click.option("--entities", default="leads,deals", show_default=True,
              help="Comma-separated: leads, deals.")
@_PORTAL
@_NO_BUILD
def backfill(since: str, until: str | None, entities: str, portals: tuple[str, ...],
             no_build: bool) -> None:
    """Re-pull the leads/deals created in a window (repairs that did not touch DATE_MODIFY),
    keeping every earlier version, then rebuild and publish."""
    what = _request("backfill", since=since, until=until, entities=entities)
    click.echo(f"Re-reading {what.window.describe()}…")
    _load(what, portals, rebuild=not no_build)


@main.command()
@_PORTAL
@_NO_BUILD
def reconcile(portals: tuple[str, ...], no_build: bool) -> None:
    """Find leads and deals deleted on the portal (ID lists compared), mark them deleted, then
    rebuild and publish."""
    click.echo("Comparing the portal's ID lists with the warehouse…")
    cycle = _load(_request("reconcile"), portals, rebuild=not no_build)
    click.echo(f"Deletion marks written: {cycle.rows.get('deleted_records', 0)}")


@main.command()
def status() -> None:
    """Freshness and the last result per entity, and the latest runs."""
    from orchestration.pipeline import settings
    from orchestration.pipeline import status as status_report

    try:
        click.echo(status_report.report(settings.load()))
    except Exception as exc:
        _fail(exc)


@main.command()
@click.argument("mart")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "parquet"]), default="xlsx",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="File to write.")
def export(mart: str, fmt: str, out: str) -> None:
    """Write a mart from the published BI copy to an Excel, CSV or Parquet file."""
    from pathlib import Path

    from orchestration.pipeline import export, settings

    try:
        with click.progressbar(length=1, label=f"Exporting {mart}", file=None) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            rows = export.export(settings.load(), mart, fmt, Path(out), progress)
    except Exception as exc:
        _fail(exc)
    click.echo(f"Wrote {rows:,} rows of {mart} to {out}")


@main.command()
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--scale", type=click.FloatRange(0, 100, min_open=True), default=0.2,
              show_default=True, help="Size of the demo company the emulator starts with.")
@click.option("--webhook-from-env", is_flag=True,
              help="Use SOURCES__BITRIX24__WEBHOOK_URL (a real portal) instead of the emulator.")
@click.option("--worker/--no-worker", default=True, show_default=True,
              help="Run the event worker beside Dagster (off: the minute schedule syncs).")
def dev(port: int, scale: float, webhook_from_env: bool, worker: bool) -> None:
    """The Dagster UI with the schedules and sensors on and the event worker, against the
    emulator in live mode."""
    from orchestration.commands import dev as dev_run
    from orchestration.pipeline import settings

    try:
        dev_run.run(settings.load(), port=port, scale=scale, use_env=webhook_from_env,
                    worker=worker, echo=click.echo)
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        _fail(exc)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Where the event receiver listens (0.0.0.0 behind a public proxy).")
@click.option("--port", default=8089, show_default=True, type=click.IntRange(1, 65535))
@click.option("--poll-seconds", type=click.FloatRange(1, 3600), default=5.0, show_default=True,
              help="A pass this often whatever the events (an idle pass costs one request).")
@click.option("--test-every", "test_every", type=click.FloatRange(10), default=300.0,
              show_default=True, help="Seconds between runs of the dbt data tests.")
def worker(host: str, port: int, poll_seconds: float, test_every: float) -> None:
    """Keep BI_PATH seconds behind the portal: a long-lived process that syncs, builds and
    publishes on each portal event (and polls as their safety net); Dagster shows its work."""
    from orchestration.pipeline import settings
    from orchestration.worker import worker as worker_run

    timing = worker_run.Timing(poll_seconds=poll_seconds, test_every_seconds=test_every)
    try:
        worker_run.run(settings.load(), host, port, timing, click.echo)
    except Exception as exc:
        _fail(exc)


@main.command()
@click.option("--port", default=8088, show_default=True, type=click.IntRange(1, 65535))
def bi(port: int) -> None:
    """Superset with the shipped dashboards on the BI copy (`make bi` installs it first)."""
    from orchestration.commands import superset as superset_run
    from orchestration.pipeline import settings

    try:
        superset_run.run(settings.load(), port=port, echo=click.echo)
    except superset_run.SupersetError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def postgres() -> None:
    """The local PostgreSQL server of the postgres engine (data/postgres): Debian's binaries
    running a cluster of the project's own, for the demo and trials. Production points
    POSTGRES_URL at a server of its own."""


@postgres.command("start")
def postgres_start() -> None:
    """Start the local server (made on first use); say how to point the warehouse at it."""
    from orchestration.pipeline.warehouse import local_postgres as local

    try:
        server = local.local_server().start()
    except Exception as exc:
        _fail(exc)
    click.echo(f"PostgreSQL is running on 127.0.0.1:{server.port} (cluster in {server.root}).\n"
               "Use it: export WAREHOUSE_ENGINE=postgres "
               'POSTGRES_URL="$(bitrix-warehouse postgres url)"')


@postgres.command("stop")
def postgres_stop() -> None:
    """Stop the local server."""
    from orchestration.pipeline.warehouse import local_postgres as local

    try:
        local.local_server().stop()
    except Exception as exc:
        _fail(exc)
    click.echo("PostgreSQL stopped.")


@postgres.command("url")
@click.option("--database", default="warehouse", show_default=True)
def postgres_url(database: str) -> None:
    """Print the local server's URL for POSTGRES_URL (it holds the password: meant for
    `export POSTGRES_URL="$(…)"`, not for logs). The database is created if missing."""
    from orchestration.pipeline.warehouse import local_postgres as local

    try:
        click.echo(local.ensure_database(local.local_server().start().url(), database))
    except Exception as exc:
        _fail(exc)

