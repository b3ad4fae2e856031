"""`python -m emulator` (also `bitrix-warehouse emulator`): a local Bitrix24 portal that speaks the
REST protocol. Only click is imported up front; the server loads when the command runs."""

import click


@click.command()
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

    from emulator.http.server import ServerOptions, serve

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
