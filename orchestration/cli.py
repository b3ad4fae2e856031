"""`bitrix-warehouse`: the project's command line.

Commands import their machinery lazily, so `bitrix-warehouse emulator` does not pay for loading
dlt, dbt and Dagster.
"""

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show the traceback of an error.")
def main(verbose: bool) -> None:
    """Bitrix24 CRM → DuckDB warehouse: incremental sync, marts, and a local portal emulator."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--dataset", type=click.Choice(["demo", "empty"]), default="demo", show_default=True)
@click.option(
    "--scale",
    type=click.FloatRange(0, 100, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiplies the demo company's daily volume (1 ≈ 600 leads/day).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the demo data.")
@click.option("--live", is_flag=True, help="Keep generating activity in real time.")
@click.option(
    "--live-interval",
    type=click.FloatRange(0, min_open=True),
    default=3.0,
    show_default=True,
    help="Seconds between live activity steps.",
)
@click.option("--secret", default=None, help="Webhook secret (default: a random one).")
@click.option("--timezone", default="Europe/Moscow", show_default=True, help="Portal time zone.")
@click.option("--no-rate-limit", is_flag=True, help="Turn the 2 req/s leaky bucket off.")
@click.option(
    "--rate",
    type=click.FloatRange(0, min_open=True),
    default=2.0,
    show_default=True,
    help="Leaky bucket drain, requests per second.",
)
@click.option(
    "--burst", type=click.IntRange(1), default=50, show_default=True, help="Leaky bucket size."
)
@click.option("--no-operating-limit", is_flag=True, help="Turn the operating-time budget off.")
@click.option("--operating-limit-seconds", type=float, default=480.0, show_default=True)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Serve HTTPS with this certificate (PEM).",
)
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option("--access-log", is_flag=True, help="Log every request (secret redacted).")
def emulator(**kwargs) -> None:
    """Run a local Bitrix24 portal that speaks the REST protocol."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from emulator.server import ServerOptions, serve

    try:
        ZoneInfo(kwargs["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown time zone {kwargs['timezone']!r}", param_hint="--timezone"
        ) from None
    if bool(kwargs["tls_cert"]) != bool(kwargs["tls_key"]):
        raise click.UsageError("--tls-cert and --tls-key go together")
    serve(
        ServerOptions(
            host=kwargs["host"],
            port=kwargs["port"],
            dataset=kwargs["dataset"],
            scale=kwargs["scale"],
            seed=kwargs["seed"],
            live=kwargs["live"],
            live_interval=kwargs["live_interval"],
            secret=kwargs["secret"],
            timezone=kwargs["timezone"],
            rate_limit=not kwargs["no_rate_limit"],
            rate=kwargs["rate"],
            burst=kwargs["burst"],
            operating_limit=not kwargs["no_operating_limit"],
            operating_limit_seconds=kwargs["operating_limit_seconds"],
            tls_cert=kwargs["tls_cert"],
            tls_key=kwargs["tls_key"],
            access_log=kwargs["access_log"],
        )
    )


def _fail(exc: BaseException) -> None:
    """A clear one-line error and a hint, exit 1; the traceback only under `--verbose`, and never
    the webhook secret."""
    from dlt.common.configuration.exceptions import ConfigFieldMissingException

    from sources.bitrix24.client import BitrixError, redact_webhooks

    if click.get_current_context().find_root().params.get("verbose"):
        import traceback

        click.echo(redact_webhooks("".join(traceback.format_exception(exc))), err=True)
    cause = exc  # dlt wraps the source's error in its step and extraction errors
    while not isinstance(cause, (BitrixError, ConfigFieldMissingException)) and cause.__cause__:
        cause = cause.__cause__
    hint = "run again with --verbose for the traceback"
    if isinstance(cause, ConfigFieldMissingException):
        message = "the portal's webhook URL is not set"
        hint = ("export SOURCES__BITRIX24__WEBHOOK_URL=https://<portal>/rest/<user id>/<secret>/ "
                "or put webhook_url under [sources.bitrix24] in .dlt/secrets.toml")
    elif isinstance(cause, BitrixError):
        message = str(cause)
    else:
        text = str(cause).strip()
        message = f"{type(cause).__name__}: {text.splitlines()[0] if text else ''}"
        if "Could not set lock" in text:
            hint = ("another process holds the warehouse (a running sync, or a tool that opened "
                    "WAREHOUSE_PATH): BI tools should read BI_PATH instead")
    raise click.ClickException(f"{redact_webhooks(message)}\n  hint: {hint}")


def _date(value: str | None):
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@main.command()
@click.option("--scale", type=click.FloatRange(0, 100, min_open=True), default=0.5,
              show_default=True, help="Size of the demo company (1 ≈ 600 leads/day).")
def demo(scale: float) -> None:
    """Run the emulator with demo data, sync it, build the marts, and show what they say."""
    from orchestration import demo as demo_run
    from orchestration import settings

    try:
        demo_run.run(settings.load(), scale, click.echo)
    except Exception as exc:  # every failure becomes one clear line
        _fail(exc)


@main.command()
@click.option("--no-build", is_flag=True, help="Extract and load only; skip dbt and publishing.")
def sync(no_build: bool) -> None:
    """One incremental cycle: extract the changes, load, build the marts, publish BI_PATH."""
    from orchestration import cycle, ingest, settings

    config = settings.load()
    try:
        click.echo("Syncing the portal's changes…")
        run = ingest.sync(config, progress=True)
        if no_build:
            click.echo(cycle.describe(cycle.Cycle(run, dict(run.seconds))))
            return
        click.echo(cycle.describe(cycle.finish(config, run, click.echo)))
    except Exception as exc:  # every failure becomes one clear line
        _fail(exc)


@main.command()
@click.option("--since", required=True, help="First day of the window (YYYY-MM-DD, portal time).")
@click.option("--until", default=None, help="Day after the window (exclusive); default: today.")
@click.option("--entities", default="leads,deals", show_default=True,
              help="Comma-separated: leads, deals.")
def backfill(since: str, until: str | None, entities: str) -> None:
    """Re-pull the leads/deals created in a window (repairs that did not touch DATE_MODIFY),
    keeping every earlier version, then rebuild and publish."""
    from orchestration import cycle, ingest, settings

    wanted = tuple(e.strip() for e in entities.split(",") if e.strip())
    unknown = set(wanted) - {"leads", "deals"}
    if unknown or not wanted:
        raise click.BadParameter(f"unknown entities: {', '.join(sorted(unknown)) or '(none)'}; "
                                 "choose from leads, deals", param_hint="--entities")
    config = settings.load()
    try:
        click.echo(f"Re-reading the {' and '.join(wanted)} created from {since}"
                   f"{f' until {until}' if until else ''}…")
        run = ingest.backfill(config, _date(since), _date(until), wanted, progress=True)
        click.echo(cycle.describe(cycle.finish(config, run, click.echo)))
    except click.ClickException:
        raise
    except Exception as exc:
        _fail(exc)


@main.command()
def reconcile() -> None:
    """Find leads and deals deleted on the portal (ID lists compared) and mark them deleted."""
    from orchestration import ingest, settings

    try:
        run = ingest.reconcile(settings.load())
    except Exception as exc:
        _fail(exc)
    click.echo(f"Deletion marks written: {run.rows.get('deleted_records', 0)}")


@main.command()
def status() -> None:
    """Freshness and the last result per entity, and the latest runs."""
    from orchestration import settings
    from orchestration import status as status_report

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

    from orchestration import bi, settings

    try:
        with click.progressbar(length=1, label=f"Exporting {mart}", file=None) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            rows = bi.export(settings.load(), mart, fmt, Path(out), progress)
    except Exception as exc:
        _fail(exc)
    click.echo(f"Wrote {rows:,} rows of {mart} to {out}")


@main.command()
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--scale", type=click.FloatRange(0, 100, min_open=True), default=0.2,
              show_default=True, help="Size of the demo company the emulator starts with.")
@click.option("--webhook-from-env", is_flag=True,
              help="Use SOURCES__BITRIX24__WEBHOOK_URL (a real portal) instead of the emulator.")
def dev(port: int, scale: float, webhook_from_env: bool) -> None:
    """The Dagster UI with the schedule and sensors on, against the emulator in live mode."""
    from orchestration import dev as dev_run
    from orchestration import settings

    try:
        dev_run.run(settings.load(), port=port, scale=scale, use_env=webhook_from_env,
                    echo=click.echo)
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        _fail(exc)


if __name__ == "__main__":
    main()
