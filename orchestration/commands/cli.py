"""`bitrix-warehouse`: the project's command line.

Commands import their machinery lazily, so `bitrix-warehouse emulator` does not pay for loading
dlt, dbt and Dagster.
"""

import click

from emulator.http.cli import emulator
from orchestration.commands.errors import fail
from orchestration.commands.portals import portals
from orchestration.commands.postgres import postgres
from orchestration.pipeline.warehouse import ENGINES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of an error.")
def main(verbose: bool) -> None:
    """Bitrix24 CRM → DuckDB warehouse: incremental sync, marts, and a local portal emulator."""


main.add_command(emulator)
main.add_command(portals)
main.add_command(postgres)


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
        fail(exc)


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
        fail(exc)
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
@click.option("--full-refresh", is_flag=True,
              help="Rebuild every model from scratch, whatever the last loads brought (after "
                   "raw tables were edited by hand, or as a nightly safety net).")
def build(full_refresh: bool) -> None:
    """Build the marts from what the warehouse holds, without loading, and publish BI_PATH."""
    from orchestration.pipeline import operations, settings

    try:
        config = settings.load()
        seconds = operations.build(config, full_refresh=full_refresh)
        published = operations.publish(config)
    except Exception as exc:  # every failure becomes one clear line
        fail(exc)
    click.echo(f"Built in {seconds:.1f} s; published {published.tables} tables, "
               f"{published.rows:,} rows.")


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
        fail(exc)


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
        fail(exc)
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
        fail(exc)


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
        fail(exc)


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
