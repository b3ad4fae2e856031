"""Transform: `dbt build` of `dbt_project/` against the warehouse, for the CLI (the Dagster
assets run the same project through dagster-dbt), and the manifest those assets load."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from orchestration.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))  # the venv's dbt, whatever PATH says


class BuildFailed(Exception):
    """`dbt build` failed: a model error or an error-severity data test."""


def dbt_args(settings: Settings, *, unit_tests: bool) -> list[str]:
    """Arguments of the routine build after a sync. Unit tests check the SQL, not the data, so
    the every-minute build leaves them to CI (`make test` runs them)."""
    args = ["build"]
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    if settings.portal_timezone:
        args += ["--vars", json.dumps({"portal_timezone": settings.portal_timezone})]
    return args


def _dbt(settings: Settings, args: list[str], target: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            DBT,
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(target.resolve()),
            "--log-path",
            str((target / "logs").resolve()),
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "WAREHOUSE_PATH": str(settings.warehouse_path.resolve()),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        capture_output=True,
        text=True,
    )


def build(settings: Settings, *, unit_tests: bool = False) -> None:
    result = _dbt(
        settings,
        dbt_args(settings, unit_tests=unit_tests),
        settings.warehouse_path.parent / "dbt_target",
    )
    if result.returncode != 0:
        failures = [
            line.split("] ", 1)[-1].strip()
            for line in result.stdout.splitlines()
            if " ERROR " in line or " FAIL " in line or "Error" in line
        ]
        raise BuildFailed("dbt build failed: " + ("; ".join(failures[-3:]) or "see dbt.log"))


def ensure_manifest(settings: Settings, target: Path) -> Path:
    """The manifest `@dbt_assets` reads when the definitions load, parsed again when it is
    missing or older than any model, macro or project file (a stale manifest would silently
    describe yesterday's models)."""
    manifest = target / "manifest.json"
    sources = [PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros"):
        sources += [p for p in (PROJECT_DIR / folder).rglob("*") if p.is_file()]
    newest = max(p.stat().st_mtime for p in sources)
    if manifest.exists() and manifest.stat().st_mtime >= newest:
        return manifest
    # Parsed aside, then swapped in whole: another process loading the definitions (a second
    # code server, a parallel test worker) must never read a half-written manifest.
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target, prefix=".parse-") as scratch:
        result = _dbt(settings, ["parse"], Path(scratch))
        if result.returncode != 0:
            raise RuntimeError("dbt parse failed: " + result.stdout[-1000:])
        os.replace(Path(scratch) / "manifest.json", manifest)
    return manifest
