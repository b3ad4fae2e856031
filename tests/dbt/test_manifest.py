"""One parsed manifest serves every set of portals and zone (`transform._manifest_key`): dbt
reads a command's vars when it compiles, and the project reads vars nowhere dbt resolves them
at parse."""

import re
from dataclasses import replace

import pytest

from orchestration.pipeline import dbt_project, transform

ZONE = "{{ var('portal_timezone') }}"


def compiled(settings, inline: str) -> str:
    result = transform.invoke(settings, ["compile", "--inline", inline])
    assert result.success, result.exception
    (node,) = [r.node for r in result.result.results]
    return node.compiled_code


def test_a_manifest_parsed_for_one_zone_compiles_another_zones_models(warehouse):
    assert compiled(warehouse, ZONE) == "Europe/Moscow"  # the project's default zone
    parsed = dict(transform._MANIFESTS)
    tokyo = replace(warehouse, portal_timezone="Asia/Tokyo")
    assert compiled(tokyo, ZONE) == "Asia/Tokyo"
    assert parsed == transform._MANIFESTS  # not parsed again


def test_vars_are_read_only_when_models_compile():
    project = transform.PROJECT_DIR
    for path in [project / "dbt_project.yml", *(project / "models").rglob("*.yml")]:
        assert "var(" not in path.read_text(), path
    for path in (project / "models").rglob("*.sql"):
        for config in re.findall(r"config\((.*?)\)\s*}}", path.read_text(), re.S):
            assert "var(" not in config, path


def test_a_new_process_reads_the_parsed_project_back_and_a_damaged_one_is_parsed_again(
        warehouse, tmp_path, monkeypatch):
    """The parsed project is kept on disk (`dbt_project`): a process that finds it there (here:
    this one with its own parsed projects forgotten) parses nothing, and one that finds it
    damaged parses the project and keeps it anew."""
    monkeypatch.setattr(dbt_project, "MANIFEST_CACHE", tmp_path / "manifests")
    parses = []
    parse = transform._parse
    monkeypatch.setattr(transform, "_parse", lambda *args: parses.append(1) or parse(*args))

    def in_a_new_process() -> str:
        monkeypatch.setattr(transform, "_MANIFESTS", {})
        return compiled(warehouse, ZONE + " {{ ref('fct_leads') }}")

    first = in_a_new_process()
    kept = dbt_project.cache_path(transform._manifest_key(warehouse))
    assert parses == [1] and kept.exists()
    assert in_a_new_process() == first and parses == [1]  # read back, not parsed

    kept.write_bytes(kept.read_bytes()[:1000])  # cut short (a disk that filled up)
    assert in_a_new_process() == first and parses == [1, 1]
    assert dbt_project.read(kept) is not None  # kept whole again


def test_a_command_registers_its_adapter_without_reading_the_stacks_source(warehouse,
                                                                            monkeypatch):
    """dbt-common names each behaviour flag's module from `inspect.stack()`, tens of ms a flag
    in a process with Dagster loaded (`transform._repair_behaviour_flags`); the name is the
    same without it."""
    import inspect

    from dbt.adapters.base.impl import BaseAdapter

    names = []
    made = BaseAdapter.behavior

    def make(adapter, flags):
        made.fset(adapter, flags)
        names.extend(flag._behavior_change_event.flag_source for flag in adapter._behavior._flags)

    monkeypatch.setattr(inspect, "stack", lambda *a, **k: pytest.fail("inspect.stack read"))
    monkeypatch.setattr(BaseAdapter, "behavior", property(made.fget, make))
    assert compiled(warehouse, "select 1") == "select 1"
    assert names and set(names) == {"dbt.adapters.base.impl"}, names


def test_commands_on_postgres_do_not_add_a_behaviour_flag_each(on_postgres):
    """dbt-postgres's adapter appended its flag to dbt's shared list at every command, so each
    command of a long-lived worker made more flags than the one before."""
    from dbt.adapters.base import impl

    for _ in range(2):
        compiled(on_postgres, "select 1")
    after_two = len(impl.DEFAULT_BASE_BEHAVIOR_FLAGS)
    for _ in range(3):
        compiled(on_postgres, "select 1")
    assert len(impl.DEFAULT_BASE_BEHAVIOR_FLAGS) == after_two
