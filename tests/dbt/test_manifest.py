"""One parsed manifest serves every set of portals and zone (`transform._manifest_key`): dbt
reads a command's vars when it compiles, and the project reads vars nowhere dbt resolves them
at parse."""

import re
from dataclasses import replace

from orchestration.pipeline import transform

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
