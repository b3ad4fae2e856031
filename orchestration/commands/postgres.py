"""`bitrix-warehouse postgres start|stop|url`: the local PostgreSQL server of the postgres
engine."""

import click

from orchestration.commands.errors import fail


@click.group()
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
        fail(exc)
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
        fail(exc)
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
        fail(exc)
