"""How a command fails: one clear line and a hint, never a traceback unless asked for."""

import click


def fail(exc: BaseException) -> None:
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
