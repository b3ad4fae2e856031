"""Sets up Superset for the bitrix-warehouse dashboards; runs in Superset's own env (bi/.venv).

`bitrix-warehouse bi` (orchestration/superset.py) calls it with the environment that
`superset_config.py` reads (SUPERSET_HOME, SUPERSET_SECRET_KEY, SUPERSET_CONFIG_PATH):

    admin.py setup --bi-path PATH    (admin password on stdin)
    admin.py client --portal NAME --username LOGIN    (its password on stdin)

in one process (each `superset` CLI call would pay Superset's ~10 s start again):
- upgrades the metadata database and syncs the roles (`superset init`);
- creates the admin user, or resets its password to the one given;
- imports the dashboards kept as code in `dashboards/` (Superset's own export format), the
  database pointed at PATH read-only. This is Superset's "assets" import, made for assets kept
  under source control: every start overwrites the shipped database, datasets, charts and
  dashboards with the repository's (edit them there, or save a copy under another name in
  Superset); what a user made beside them stays;
- reads every dataset's columns and their types from the file, so the YAML lists only the
  columns it names for the UI, and a new mart column shows up after the next start.
"""

import argparse
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
BUNDLE = HERE / "dashboards"
ADMIN = "admin"
# the database YAML names the BI copy by this placeholder; the real path is machine-specific
BI_PATH_PLACEHOLDER = "__BI_PATH__"


def bundle_contents(bi_path: Path) -> dict[str, str]:
    """The export bundle as Superset's importer takes it: relative path → YAML text."""
    uri = f"duckdb:///{bi_path.resolve()}"
    return {
        str(path.relative_to(BUNDLE)): path.read_text().replace(BI_PATH_PLACEHOLDER, uri)
        for path in sorted(BUNDLE.rglob("*.yaml"))
    }


def setup(bi_path: Path, password: str) -> None:
    from flask_migrate import upgrade
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        upgrade()
        from superset import appbuilder, db, security_manager
        from superset.commands.importers.v1.assets import ImportAssetsCommand
        from superset.connectors.sqla.models import SqlaTable
        from superset.utils.core import GenericDataType, override_user

        appbuilder.add_permissions(update_perms=True)
        security_manager.sync_role_definitions()
        user = security_manager.find_user(username=ADMIN)
        if user is None:
            user = security_manager.add_user(
                ADMIN, "Admin", "User", "admin@localhost",
                security_manager.find_role("Admin"), password=password,
            )
        else:
            security_manager.reset_password(user.id, password)
        contents = bundle_contents(bi_path)
        shipped = [
            yaml.safe_load(text)["uuid"] for name, text in contents.items()
            if name.startswith("datasets/")
        ]
        with override_user(user):
            ImportAssetsCommand(contents).run()
            for dataset in db.session.query(SqlaTable).filter(SqlaTable.uuid.in_(shipped)):
                dataset.fetch_metadata()
                # fetch_metadata marks dates only in the columns it adds, not in those the
                # YAML names (imported as not temporal)
                for column in dataset.columns:
                    column.is_dttm = column.type_generic == GenericDataType.TEMPORAL
        db.session.commit()


# A portal's name as the registry takes it (letters, digits, `_`): it is written into the
# row-level security clause, which Superset adds to every query of the client's role.
PORTAL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def client(portal: str, username: str, password: str) -> None:
    """A login for one client: it opens the shipped dashboards and sees only `portal`'s rows.
    Its role, `Portal <portal>`, has Gamma's permissions (read dashboards and charts) and read
    access to every shipped dataset; a row-level security filter `portal = '<portal>'` on those
    datasets is added by Superset to every query the role makes, whatever the dashboard's own
    filters say. Run again: the role, filter and user are brought up to date."""
    if not PORTAL_NAME.match(portal):
        raise SystemExit(f"not a portal's name: {portal!r}")
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import db, security_manager
        from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable

        shipped = [yaml.safe_load(path.read_text())["uuid"]
                   for path in sorted((BUNDLE / "datasets").rglob("*.yaml"))]
        datasets = db.session.query(SqlaTable).filter(SqlaTable.uuid.in_(shipped)).all()
        if len(datasets) != len(shipped):
            raise SystemExit("the dashboards are not imported yet: run `bitrix-warehouse bi` once")
        name = f"Portal {portal}"
        role = security_manager.find_role(name) or security_manager.add_role(name)
        role.permissions = [
            *security_manager.find_role("Gamma").permissions,
            *(security_manager.add_permission_view_menu("datasource_access", dataset.perm)
              for dataset in datasets),
        ]
        rls = db.session.query(RowLevelSecurityFilter).filter_by(name=name).one_or_none()
        if rls is None:
            rls = RowLevelSecurityFilter(name=name, filter_type="Regular")
            db.session.add(rls)
        rls.description = f"Only the rows of portal {portal}"
        rls.clause = f"portal = '{portal}'"  # a checked name: letters, digits and _ only
        rls.tables, rls.roles = datasets, [role]
        user = security_manager.find_user(username=username)
        if user is None:
            security_manager.add_user(username, portal, "client", f"{username}@localhost", role,
                                      password=password)
        else:
            user.roles = [role]
            security_manager.reset_password(user.id, password)
        db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("setup", help="migrate, create the admin, import dashboards")
    command.add_argument("--bi-path", type=Path, required=True)
    command = commands.add_parser("client", help="a login that sees one portal's rows only")
    command.add_argument("--portal", required=True)
    command.add_argument("--username", required=True)
    args = parser.parse_args()
    password = sys.stdin.readline().strip()
    if args.command == "setup":
        setup(args.bi_path, password)
    else:
        client(args.portal, args.username, password)


if __name__ == "__main__":
    main()
