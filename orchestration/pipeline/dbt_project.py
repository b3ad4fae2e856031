"""The dbt project on disk: where it is, the files a parse reads, and its parsed form (dbt's
manifest) kept between processes.

Every process that runs dbt (a CLI command, each Dagster run, the worker at its start) used to
parse the project again: ~4-5 s from scratch in a new target folder, ~1.5 s through dbt's own
partial parse of an old one, against ~0.4 s to read a parsed project back (measured on 2 cores,
without contention). A kept manifest is named after what it was parsed for (`cache_path`): the
files' contents, the engine and database, the project's place and dbt's versions.
"""

import functools
import hashlib
import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIR = ROOT / "dbt_project"
MANIFEST_CACHE = PROJECT_DIR / "target" / "manifests"
MANIFESTS_KEPT = 16  # the newest; each is ~2 MB


def files() -> list[Path]:
    """The files a parse reads: the project's models, macros and `dbt_project.yml`."""
    found = [PROJECT_DIR / "dbt_project.yml"]
    for folder in ("models", "macros"):
        found += [p for p in (PROJECT_DIR / folder).rglob("*") if p.is_file()]
    return sorted(found)


def mtime() -> float:
    """The newest change to the project's models, macros and `dbt_project.yml`."""
    return max(p.stat().st_mtime for p in files())


def digest() -> str:
    """What the project's files say (~2 ms): a parsed project is kept for exactly these files,
    whatever their times (a file checked out again, an edit undone)."""
    seen = hashlib.sha256()
    for path in files():
        seen.update(f"{path.relative_to(PROJECT_DIR)}\0{path.stat().st_size}\0".encode())
        seen.update(path.read_bytes())
    return seen.hexdigest()


def default_var(name: str):
    """A var's default, as `dbt_project.yml` sets it."""
    import yaml

    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"][name]


@functools.cache
def _versions() -> tuple[str, ...]:
    from importlib.metadata import version

    return tuple(version(package) for package in ("dbt-core", "dbt-duckdb", "dbt-postgres"))


def cache_path(key: tuple) -> Path:
    """Where the parsed project for `key` is kept: named after the key, the project's place
    (the manifest holds its paths) and dbt's versions (which write and read it)."""
    name = json.dumps([*key, str(PROJECT_DIR), *_versions()])
    return MANIFEST_CACHE / f"{hashlib.sha256(name.encode()).hexdigest()[:32]}.msgpack"


def read(path: Path):
    """The manifest kept at `path`, ready for dbt's runner; None when there is none or it
    cannot be read (then the project is parsed, and the file written anew)."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumuro_decoder

    try:
        manifest = Manifest.from_msgpack(path.read_bytes(), decoder=extended_mashumuro_decoder)
        manifest.build_parent_and_child_maps()
        manifest.build_flat_graph()  # as dbt's own parse leaves it
    except Exception:  # none yet, or not one dbt can read back: parse instead
        return None
    return manifest


def keep(path: Path, manifest) -> None:
    """Keep `manifest` at `path`, whole or not at all (writers may race: each writes the same
    thing), and only the newest `MANIFESTS_KEPT`. Best effort: a checkout that cannot be
    written to parses in every process, as before."""
    from dbt.parser.manifest import extended_mashumaro_encoder

    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch.write_bytes(manifest.to_msgpack(extended_mashumaro_encoder))
        os.replace(scratch, path)
        kept = sorted(path.parent.glob("*.msgpack"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-MANIFESTS_KEPT]:
            old.unlink(missing_ok=True)
    except OSError:
        scratch.unlink(missing_ok=True)
