"""dbt's node results as Dagster names them: a model's asset key, a data test's asset check key,
keyed the way dagster-dbt keys the `bitrix_dbt` assets and their checks. Both writers of dbt's
results use it: the job's dbt step (`assets.marts_assets`, which runs dbt in its own process)
and the worker's reports (`reporting.DagsterReport`), so a model or a check reads the same
whichever of the two built it.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator
from dagster_dbt.asset_utils import get_asset_check_key_for_test
from dagster_dbt.dbt_manifest import validate_manifest


@dataclass(frozen=True)
class Check:
    key: dg.AssetCheckKey
    passed: bool
    severity: dg.AssetCheckSeverity
    metadata: dict


class DbtNodes:
    def __init__(self, manifest: Path, translator: DagsterDbtTranslator) -> None:
        # dagster-dbt's own read, cached per path: `@dbt_assets` has read this file already
        self.manifest = validate_manifest(manifest)
        self.translator = translator

    def key(self, unique_id: str) -> dg.AssetKey:
        return self.translator.get_asset_spec(self.manifest, unique_id, None).key

    def selectors(self, keys: Iterable[dg.AssetKey]) -> tuple[str, ...]:
        """dbt's selectors of the models of these asset keys (a run of some dbt assets)."""
        wanted = set(keys)
        return tuple(f"fqn:{'.'.join(node['fqn'])}" for uid, node in self.manifest["nodes"].items()
                     if node["resource_type"] == "model" and self.key(uid) in wanted)

    def models(self) -> list[dg.AssetKey]:
        """The asset key of every model, each after the models it reads (the order Dagster
        takes a multi-asset's results in)."""
        nodes = self.manifest["nodes"]
        graph = {uid: [up for up in node["depends_on"]["nodes"] if up in nodes]
                 for uid, node in nodes.items() if node["resource_type"] == "model"}
        return [self.key(uid) for uid in TopologicalSorter(graph).static_order()]

    def built(self, results: Iterable) -> Iterator[tuple[dg.AssetKey, dict]]:
        """Each model built, with its metadata."""
        for node in results:
            if node.node.unique_id.startswith("model.") and str(node.status) == "success":
                yield self.key(node.node.unique_id), {
                    "seconds": round(node.execution_time, 2),
                    "unique_id": node.node.unique_id,
                }

    def checked(self, results: Iterable) -> Iterator[Check]:
        """Each data test that ran, as the asset check dagster-dbt made of it."""
        for node in results:
            key = get_asset_check_key_for_test(self.manifest, self.translator,
                                               node.node.unique_id, None)
            if key is None:
                continue
            status = str(node.status)
            warn = node.node.config.severity.lower() == "warn"
            yield Check(
                key=key,
                passed=status == "pass",
                severity=dg.AssetCheckSeverity.WARN if warn else dg.AssetCheckSeverity.ERROR,
                metadata={"status": status, "failures": int(node.failures or 0)},
            )
