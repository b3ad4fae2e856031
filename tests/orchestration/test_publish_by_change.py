"""A publish copies the marts a build replaced since the last publish, not every mart
(`orchestration/pipeline/mart_changes.py`), and readers still get the whole set the build made:
after a pass that loaded nothing, after a build killed once dbt was done, and after a failed
publish."""

import os
import subprocess
import sys

import pytest

from emulator.testing import ROOT
from orchestration.pipeline import operations, transform
from tests.warehouse import MARTS, add_lead, settings_env, sync

ROUTINE = transform.Build(data_tests=False)
FRESHNESS_ONLY = transform.Build(data_tests=False, select=("mart_pipeline_freshness",))


def cycle(settings) -> tuple[str, ...]:
    """A pass, the routine build and a publish: the marts the publish copied."""
    sync(settings)
    transform.build(settings, ROUTINE)
    return operations.publish(settings).marts


def _marts(con, schema: str) -> dict[str, list]:
    return {mart: sorted(con.rows(f"select * from {con.ident(schema, mart)}"), key=repr)
            for mart in MARTS}


def published(settings) -> dict[str, list]:
    """Every published mart's rows, sorted."""
    with settings.warehouse.read_published() as con:
        return _marts(con, "marts")


def built(settings) -> dict[str, list]:
    """Every mart's rows as the build left them, sorted."""
    with settings.warehouse.connect(read_only=True) as con:
        return _marts(con, settings.warehouse.build_schema)


def leads(settings) -> set[str]:
    with settings.warehouse.read_published() as con:
        return {title for (title,) in con.rows("select title from marts.fct_leads")}


def test_a_publish_copies_what_the_build_replaced_and_readers_get_every_mart_it_made(
        emulator, any_warehouse):
    add_lead(emulator, "Окна")
    assert set(cycle(any_warehouse)) == MARTS  # the first publish: every mart
    assert published(any_warehouse) == built(any_warehouse)

    # a pass that loaded nothing: the build made the freshness mart alone, and that is copied
    assert cycle(any_warehouse) == ("mart_pipeline_freshness",)
    assert published(any_warehouse) == built(any_warehouse)  # "data as of" moved too

    add_lead(emulator, "Двери")
    assert set(cycle(any_warehouse)) == MARTS
    assert leads(any_warehouse) == {"Окна", "Двери"}
    assert published(any_warehouse) == built(any_warehouse)


def test_a_build_killed_after_dbt_replaced_the_marts_has_them_published_by_the_next_cycle(
        emulator, any_warehouse):
    add_lead(emulator, "Окна")
    cycle(any_warehouse)
    add_lead(emulator, "Двери")
    sync(any_warehouse)
    # dbt replaced every mart, and the process died before it said which
    script = ("import os, signal\n"
              "from orchestration.pipeline import mart_changes, settings, transform\n"
              "mart_changes.narrow = lambda *args: os.kill(os.getpid(), signal.SIGKILL)\n"
              "transform.build(settings.load(), transform.Build(data_tests=False))\n")
    process = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                             env={**os.environ, **settings_env(any_warehouse)}, timeout=300)
    assert process.returncode == -9, process.stderr[-2000:]
    # the worker's refresh builds the freshness mart alone; the publish after it still copies
    # every mart the killed build may have replaced
    transform.build(any_warehouse, FRESHNESS_ONLY)
    assert set(operations.publish(any_warehouse).marts) == MARTS
    assert leads(any_warehouse) == {"Окна", "Двери"}
    assert published(any_warehouse) == built(any_warehouse)


def test_the_marts_a_failed_publish_saw_are_copied_by_the_next(emulator, warehouse,
                                                               monkeypatch):
    add_lead(emulator, "Окна")
    cycle(warehouse)
    add_lead(emulator, "Двери")
    sync(warehouse)
    transform.build(warehouse, ROUTINE)

    def failing(*args):
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", failing)
        with pytest.raises(OSError):
            operations.publish(warehouse)
    assert leads(warehouse) == {"Окна"}  # readers still read the last good copy
    transform.build(warehouse, FRESHNESS_ONLY)
    assert set(operations.publish(warehouse).marts) == MARTS
    assert leads(warehouse) == {"Окна", "Двери"}
    assert published(warehouse) == built(warehouse)
