"""`bitrix-warehouse portals add|list|remove`: the registry of the portals one deployment serves
(`orchestration.pipeline.portals`). A webhook given here goes to dlt's secrets file, readable by
its owner alone, and is never printed."""

import click


def _registry():
    from orchestration.pipeline import settings

    return settings.load().registry


def _failing(action):
    """Run `action`; a registry error becomes one clear line."""
    from orchestration.pipeline.portals import PortalError

    try:
        return action()
    except PortalError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def portals() -> None:
    """The portals this deployment syncs (PORTALS_FILE; default portals.toml beside the
    warehouse). Without a registry, the one portal of SOURCES__BITRIX24__WEBHOOK_URL is `main`."""


@portals.command("add")
@click.argument("name")
@click.option("--webhook-url", default=None,
              help="The portal's inbound webhook, https://<portal>/rest/<user id>/<secret>/ "
                   "(kept in .dlt/secrets.toml; `main` may keep the one set the old way).")
@click.option("--timezone", default=None,
              help="IANA zone of its day and month buckets (default: PORTAL_TIMEZONE).")
@click.option("--application-token", default=None,
              help="The token the portal shows for its outgoing webhook, for the event worker "
                   "(kept in .dlt/secrets.toml).")
def add(name: str, webhook_url: str | None, timezone: str | None,
        application_token: str | None) -> None:
    """Register a portal (again: change its time zone, webhook or token). The next round syncs
    it."""
    from orchestration.pipeline.portals import Portal

    registry = _registry()
    _failing(lambda: registry.add(Portal(name, timezone), webhook_url, application_token))
    kept = (f", its secrets in {registry.secrets}"
            if webhook_url or application_token else "")
    click.echo(f"Portal {name} registered in {registry.path}{kept}.")


@portals.command("list")
def list_() -> None:
    """The registered portals: name, time zone, raw schema, whether a webhook is set and
    whether the event worker hears its events."""
    registry = _registry()
    for portal in _failing(registry.portals):
        webhook = ("webhook set" if registry.has_webhook(portal)
                   else f"NO WEBHOOK (set {portal.secret_env})")
        heard = ("events heard" if portal.application_token(registry.secrets)
                 else "no events (no application token)")
        zone = portal.timezone or "PORTAL_TIMEZONE"
        click.echo(f"{portal.name}\t{zone}\t{portal.dataset}\t{webhook}\t{heard}")


@portals.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Stop syncing a portal and forget its webhook. Its raw schema stays in the warehouse."""
    registry = _registry()
    portal = _failing(lambda: registry.remove(name))
    click.echo(f"Portal {name} removed; its data stays in the schema {portal.dataset}.")


def _readers(name: str, role: str, allow: bool) -> None:
    from orchestration.pipeline import settings

    config = settings.load()
    _failing(lambda: config.registry.get(name))
    try:
        config.warehouse.readers(name, role, allow)
    except (ValueError, NotImplementedError, *config.warehouse.errors) as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None


@portals.command("grant")
@click.argument("name")
@click.argument("role")
def grant(name: str, role: str) -> None:
    """Let the PostgreSQL role ROLE (a client's BI login) read portal NAME's rows of the
    published marts, and no other portal's."""
    _readers(name, role, allow=True)
    click.echo(f"Role {role} reads portal {name}'s rows of the marts.")


@portals.command("revoke")
@click.argument("name")
@click.argument("role")
def revoke(name: str, role: str) -> None:
    """Stop ROLE reading portal NAME's rows."""
    _readers(name, role, allow=False)
    click.echo(f"Role {role} no longer reads portal {name}'s rows.")


@portals.command("superset-login")
@click.argument("name")
@click.argument("username")
def superset_login(name: str, username: str) -> None:
    """A login of the shipped Superset (`bitrix-warehouse bi`) that sees only portal NAME's rows
    in every dashboard (its own role with row-level security). Run again to bring it up to
    date; its password is kept in a file only its owner reads."""
    from orchestration.commands import superset
    from orchestration.pipeline import settings

    config = settings.load()
    _failing(lambda: config.registry.get(name))
    try:
        kept = superset.client(config, name, username)
    except superset.SupersetError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Superset login {username} sees portal {name} only; its password is in {kept}.")
