"""The portals one deployment serves: a registry (a TOML file, `PORTALS_FILE`, with no secret in
it) and each portal's webhook kept in dlt's secrets conventions.

A portal is a name, a time zone and a webhook. Each has its own dlt pipeline (so its own state and
cursor) and its own raw dataset; the marts union them with the portal in every key. The portal
`main` is the one a deployment configured before there was a registry: its pipeline, dataset and
secret keep their old names (`bitrix24`, `bitrix_raw`, `SOURCES__BITRIX24__WEBHOOK_URL`), so a
warehouse made then goes on unchanged. With no registry file, `main` is the only portal.

Another portal's webhook is read from the key dlt would look up for its pipeline and nowhere
else: the environment (`BITRIX24_<NAME>__SOURCES__BITRIX24__WEBHOOK_URL`) or dlt's
`.dlt/secrets.toml` (`[bitrix24_<name>.sources.bitrix24] webhook_url`). dlt on its own would fall
back to the unscoped `sources.bitrix24.webhook_url`, which is `main`'s: a portal without its own
webhook would load `main`'s data under its name. Here it fails, saying what to set.
"""

import os
import re
import stat
import tomllib
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import tomlkit

MAIN = "main"
# Lower-case letters, digits and `_`, a letter first: a portal's name becomes part of a schema
# name, a dlt pipeline name and an environment variable's name.
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class PortalError(ValueError):
    """A portal asked for wrongly or not configured; the message says what to do."""


@dataclass(frozen=True)
class Portal:
    name: str = MAIN
    # IANA zone of the portal's day and month buckets; None: the deployment's (`PORTAL_TIMEZONE`)
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not NAME.match(self.name):
            raise PortalError(f"a portal's name is lower-case letters, digits and _, starting "
                              f"with a letter (at most 40): not {self.name!r}")
        if self.name == "staging" or self.name.endswith("_staging"):  # dlt's staging datasets
            raise PortalError(f"a portal's name cannot end in 'staging': {self.name!r}")
        if self.timezone is not None:
            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise PortalError(f"portal {self.name}: {self.timezone!r} is not an IANA time "
                                  "zone (such as Europe/Moscow)") from None

    @property
    def is_main(self) -> bool:
        return self.name == MAIN

    @property
    def pipeline_name(self) -> str:
        return "bitrix24" if self.is_main else f"bitrix24_{self.name}"

    @property
    def dataset(self) -> str:
        """The raw schema its pipeline loads."""
        return "bitrix_raw" if self.is_main else f"bitrix_raw_{self.name}"

    @property
    def secret_env(self) -> str:
        """The environment variable of its webhook, by dlt's naming of config keys."""
        return self.env("webhook_url")

    def env(self, key: str) -> str:
        """The environment variable of one of its source's secrets, by dlt's naming."""
        prefix = "" if self.is_main else f"{self.pipeline_name.upper()}__"
        return f"{prefix}SOURCES__BITRIX24__{key.upper()}"

    def application_token(self, secrets: Path) -> str | None:
        """The token the portal shows for its outgoing webhook, which its events carry; under
        the portal's own key only, as its webhook (`main`: `SOURCES__BITRIX24__APPLICATION_TOKEN`
        or `[sources.bitrix24]`)."""
        return (os.environ.get(self.env("application_token"))
                or _secret(secrets, None if self.is_main else self.pipeline_name,
                           "application_token"))

    def source_options(self, secrets: Path) -> dict[str, str]:
        """What the dlt source must be handed for this portal: `main`'s webhook dlt resolves as
        it always did; another's is looked up under its own key only."""
        if self.is_main:
            return {}
        url = os.environ.get(self.secret_env) or _secret(secrets, self.pipeline_name,
                                                         "webhook_url")
        if not url:
            raise PortalError(
                f"portal {self.name} has no webhook URL: run `bitrix-warehouse portals add "
                f"{self.name} --webhook-url …` or set {self.secret_env}"
            )
        return {"webhook_url": url}


def _secret(secrets: Path, pipeline_name: str | None, key: str) -> str | None:
    """`[<pipeline_name>.sources.bitrix24] <key>` of the secrets file (None: the unscoped
    `[sources.bitrix24]`)."""
    try:
        document = tomllib.loads(secrets.read_text())
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:  # its text may hold secrets: say where, not what
        raise PortalError(f"{secrets} is not valid TOML (line {exc.lineno})") from None
    scope = document if pipeline_name is None else document.get(pipeline_name, {})
    section = scope.get("sources", {}).get("bitrix24", {})
    return section.get(key) or None


@dataclass(frozen=True)
class Registry:
    """The registry file and the secrets file its portals' webhooks are kept in."""

    path: Path
    secrets: Path

    def portals(self) -> tuple[Portal, ...]:
        """The registered portals by name; just `main` when there is no registry yet."""
        try:
            document = tomllib.loads(self.path.read_text())
        except FileNotFoundError:
            return (Portal(),)
        except tomllib.TOMLDecodeError as exc:
            raise PortalError(f"{self.path} is not valid TOML: {exc}") from None
        entries = document.get("portals", {})
        if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
            raise PortalError(f"{self.path}: portals are tables, [portals.<name>]")
        return tuple(Portal(name, entry.get("timezone")) for name, entry in sorted(entries.items()))

    def get(self, name: str) -> Portal:
        for portal in self.portals():
            if portal.name == name:
                return portal
        known = ", ".join(p.name for p in self.portals())
        raise PortalError(f"no portal {name!r}; the registry has {known}")

    def add(self, portal: Portal, webhook_url: str | None,
            application_token: str | None = None) -> None:
        """Register a portal (or change its time zone) and keep its webhook and the token of
        its outgoing webhook (for the event worker); `main` keeps the webhook it has, set the
        old way."""
        if webhook_url is not None and not webhook_url.startswith(("http://", "https://")):
            raise PortalError("the webhook URL starts with https:// (the portal's inbound "
                              "webhook: https://<portal>/rest/<user id>/<secret>/)")
        if webhook_url is None and not portal.is_main and not self.has_webhook(portal):
            raise PortalError(f"portal {portal.name} needs --webhook-url")
        document = self._document(self.path)
        portals = document.setdefault("portals", tomlkit.table(is_super_table=True))
        if not self.path.exists() and not portal.is_main and self._main_configured():
            portals[MAIN] = tomlkit.table()  # the portal served until now stays served
        entry = tomlkit.table()
        if portal.timezone:
            entry["timezone"] = portal.timezone
        portals[portal.name] = entry
        given = {"webhook_url": webhook_url, "application_token": application_token}
        given = {key: value for key, value in given.items() if value is not None}
        if given:
            secrets = self._document(self.secrets)
            key = [portal.pipeline_name, "sources", "bitrix24"] if not portal.is_main else \
                ["sources", "bitrix24"]
            table = secrets
            for part in key:
                table = table.setdefault(part, tomlkit.table())
            table.update(given)
            _write(self.secrets, secrets, private=True)
        _write(self.path, document)

    def application_tokens(self) -> dict[str, str]:
        """Each portal's outgoing-webhook token, for those that have one: what tells a
        portal's events apart (every portal's outgoing webhook shows a token of its own)."""
        tokens = {p.name: p.application_token(self.secrets) for p in self.portals()}
        return {name: token for name, token in tokens.items() if token}

    def has_webhook(self, portal: Portal) -> bool:
        if portal.is_main:
            return self._main_configured()
        try:
            portal.source_options(self.secrets)
        except PortalError:
            return False
        return True

    def _main_configured(self) -> bool:
        """Whether `main` has a webhook, set the old way (environment or secrets file)."""
        if os.environ.get("SOURCES__BITRIX24__WEBHOOK_URL"):
            return True
        sources = self._document(self.secrets).get("sources", {})
        return bool(sources.get("bitrix24", {}).get("webhook_url"))

    def remove(self, name: str) -> Portal:
        """Unregister a portal and forget its webhook; its data stays in the warehouse (and in
        the marts until the next build) until its raw schema is dropped."""
        portal = self.get(name)
        document = self._document(self.path)
        del document["portals"][name]
        _write(self.path, document)
        secrets = self._document(self.secrets)
        if not portal.is_main and portal.pipeline_name in secrets:
            del secrets[portal.pipeline_name]
            _write(self.secrets, secrets, private=True)
        return portal

    @staticmethod
    def _document(path: Path) -> tomlkit.TOMLDocument:
        try:
            return tomlkit.parse(path.read_text())
        except FileNotFoundError:
            return tomlkit.document()
        except tomlkit.exceptions.ParseError as exc:
            raise PortalError(f"{path} is not valid TOML (line {exc.line})") from None


def _write(path: Path, document: tomlkit.TOMLDocument, private: bool = False) -> None:
    """Replace the file whole (a reader never sees half of it); a secrets file readable by its
    owner alone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.new")
    scratch.unlink(missing_ok=True)
    mode = stat.S_IRUSR | stat.S_IWUSR if private else 0o644
    with os.fdopen(os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "w") as f:
        f.write(tomlkit.dumps(document))
    os.replace(scratch, path)
