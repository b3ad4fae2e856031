"""Views a routine build need not visit.

A view is what its SQL says over the relations it reads, so a build that changes neither can
leave it as it is. The view materialization already leaves such a view alone
(`dbt_project/macros/view.sql`), but dbt still visits every node it is given: it renders the
model and runs the materialization's checks, ~45 ms a view. At the few records of a minute's
changes that was a quarter of a warm `dbt run` of the 47 models (2.78 s → 2.11 s on a small
portal when the 20 views below were left out).

A routine build leaves out the *standing views*, those that read only the portals' raw tables
and other standing views, when nothing they are made of can have changed since the last build
that visited every view and succeeded:
- the project (its files' newest change, as the parsed manifest is keyed) and the engine,
  database and dbt vars (the portals and their zones: a portal's raw schema joins the unions);
- the columns of every relation in the schemas they read and live in, and the definitions of
  the views there (a column dlt added, a raw table a portal loaded for the first time, a view
  missing or made by someone else);
- today's date in each portal's zone: the fingerprint also decides whether a build with no raw
  change to build (`raw_changes`) may leave every model but the freshness mart as it is.

Such a build writes that fingerprint beside dbt's target, a failed one removes it, and the next
routine build compares it with the warehouse as it finds it. Anything else visits every view,
and the view materialization recreates those that changed. A view that reads a table dbt
replaces is never left out: PostgreSQL drops it with the table's old copy (a cascade), and the
visit makes it again.
"""

import hashlib
import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from orchestration.pipeline import dbt_project
from orchestration.pipeline.warehouse import Connection

# the dbt source whose tables each portal loads into a schema of its own (`portal_union`)
PORTALS_SOURCE = "bitrix"


def standing(manifest) -> list:
    """The standing views of a parsed project: views that read only sources and other
    standing views, in the manifest's order."""
    found: dict[str, bool] = {}

    def is_standing(unique_id: str) -> bool:
        if unique_id in manifest.sources:
            return True
        if unique_id not in found:
            node = manifest.nodes[unique_id]
            found[unique_id] = (node.resource_type == "model"
                                and node.config.materialized == "view"
                                and all(is_standing(up) for up in node.depends_on.nodes))
        return found[unique_id]

    return [node for unique_id, node in manifest.nodes.items()
            if node.resource_type == "model" and is_standing(unique_id)]


def fingerprint(con: Connection, manifest, key: tuple, dbt_vars: dict, days: list[str]) -> str:
    """What the standing views are made of now, on `days` (see `days`), read on the build's
    connection."""
    views = standing(manifest)
    schemas = {view.schema for view in views}
    for view in views:
        for up in view.depends_on.nodes:
            source = manifest.sources.get(up)
            if source is not None and source.source_name == PORTALS_SOURCE:
                portals = dbt_vars.get("portals") or [{"schema": source.schema}]
                schemas.update(portal["schema"] for portal in portals)
            elif source is not None:
                schemas.add(source.schema)
    marks = ", ".join("?" for _ in schemas)
    columns = con.rows(
        "select table_schema, table_name, column_name, data_type"
        " from information_schema.columns"
        f" where table_catalog = current_database() and table_schema in ({marks})"
        " order by table_schema, table_name, ordinal_position", sorted(schemas))
    definitions = con.rows(
        "select table_schema, table_name, view_definition from information_schema.views"
        f" where table_catalog = current_database() and table_schema in ({marks})"
        " order by table_schema, table_name", sorted(schemas))
    state = {"project": list(key), "vars": dbt_vars, "views": [v.name for v in views],
             "columns": columns, "definitions": definitions, "days": days}
    return hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()


def days(dbt_vars: dict) -> list[str]:
    """Today in each portal's zone: a model reads the date it is built on (how long a deal has
    been in its stage), so the first routine build of a day builds every model. Taken when a
    build starts: one that ends after midnight built the day before's."""
    default = dbt_vars.get("portal_timezone") or dbt_project.default_var("portal_timezone")
    zones = {portal["timezone"] or default for portal in dbt_vars.get("portals") or ()}
    return sorted(datetime.now(ZoneInfo(zone)).date().isoformat() for zone in zones | {default})


def kept(target: Path) -> str | None:
    """The fingerprint the last build that visited every view left in `target`."""
    path = target / "standing_views.sha256"
    return path.read_text().strip() if path.exists() else None


def keep(target: Path, value: str | None) -> None:
    """Write (or, with None, forget) the fingerprint, whole or not at all."""
    path = target / "standing_views.sha256"
    if value is None:
        path.unlink(missing_ok=True)
        return
    scratch = path.with_suffix(".tmp")
    scratch.write_text(value + "\n")
    os.replace(scratch, path)
