"""The worker's cycles, shown in Dagster on the assets the scheduled job materializes: runless
asset events (`DagsterInstance.report_runless_asset_event`), so the asset graph, the freshness
policies, the staleness sensor and each asset's history read the same whichever of the two
wrote the warehouse.

- a pass: a materialization of `ops/sync_runs` and of every `bitrix/<table>`, with the rows it
  loaded and dlt's step times (as the job's ingest step reports them);
- `dbt run`: a materialization of each model that ran;
- the BI copy: a materialization of `bi/bi_copy`;
- `dbt test`: an asset check evaluation per data test, keyed as dagster-dbt keys the checks
  of the job's dbt step, with its failing rows;
- a failed cycle: an observation of `ops/sync_runs` with the error's first line (the webhook
  secret redacted), so the failure shows in the asset's history beside the runs'.
"""

from collections.abc import Iterable

import dagster as dg

from orchestration.dagster import assets
from orchestration.dagster.dbt_nodes import DbtNodes
from orchestration.pipeline import ingest, transform
from orchestration.pipeline.settings import Settings
from orchestration.pipeline.warehouse import Published
from sources.bitrix24 import bitrix24_source


def raw_keys() -> list[dg.AssetKey]:
    """The raw tables' asset keys, as `assets.raw_assets` names them."""
    source = bitrix24_source(webhook_url=assets.SPEC_WEBHOOK)
    return [dg.AssetKey(["bitrix", name]) for name in source.selected_resources]


class DagsterReport:
    def __init__(self, settings: Settings, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        manifest = transform.ensure_manifest(settings, transform.PROJECT_DIR / "target")
        self.nodes = DbtNodes(manifest, assets.MartsTranslator(assets.freshness(settings)))
        self.raw = raw_keys()

    @classmethod
    def open(cls, settings: Settings) -> "DagsterReport | None":
        """The report to `DAGSTER_HOME`'s instance; None when no instance is set up."""
        if settings.dagster_home is None:
            return None
        return cls(settings, dg.DagsterInstance.from_config(str(settings.dagster_home)))

    def _partition(self, portal: str) -> str:
        """The portal's partition, added when the schedules have not added it yet."""
        if not self.instance.has_dynamic_partition(assets.PORTALS.name, portal):
            self.instance.add_dynamic_partitions(assets.PORTALS.name, [portal])
        return portal

    def _emit(self, events: Iterable) -> None:
        for event in events:
            self.instance.report_runless_asset_event(event)

    def loaded(self, run: ingest.RunResult) -> None:
        """A load of `run.portal`: materializations of its partition of the raw tables."""
        self._partition(run.portal)
        common = {
            "mode": run.kind,
            "data_as_of": str(run.data_as_of or ""),
            "reported_by": "worker",
            **{f"{step}_seconds": round(s, 2) for step, s in run.seconds.items()},
        }
        self._emit(
            [
                dg.AssetMaterialization(
                    assets.SYNC_RUNS_KEY, partition=run.portal, metadata={"run_id": run.run_id}
                ),
                *(
                    dg.AssetMaterialization(
                        key,
                        partition=run.portal,
                        metadata={"rows_loaded": run.rows.get(key.path[-1], 0), **common},
                    )
                    for key in self.raw
                ),
            ]
        )

    def built(self, results: Iterable) -> None:
        """`results`: dbt's node results of a `dbt run`."""
        self._emit(
            dg.AssetMaterialization(key, metadata={**metadata, "reported_by": "worker"})
            for key, metadata in self.nodes.built(results)
        )

    def published(self, published: Published, where: str) -> None:
        self._emit(
            [
                dg.AssetMaterialization(
                    assets.BI_KEY,
                    metadata={
                        "published to": where,
                        "tables": published.tables,
                        "rows": published.rows,
                        "seconds": round(published.seconds, 2),
                        "reported_by": "worker",
                    },
                )
            ]
        )

    def tested(self, results: Iterable) -> None:
        """`results`: dbt's node results of a `dbt test`."""
        self._emit([
            dg.AssetCheckEvaluation(
                asset_key=check.key.asset_key, check_name=check.key.name, passed=check.passed,
                severity=check.severity, metadata={**check.metadata, "reported_by": "worker"},
            )
            for check in self.nodes.checked(results)
        ])

    def failed(self, error: str, portal: str = ingest.MAIN.name) -> None:
        self._emit([dg.AssetObservation(
            assets.SYNC_RUNS_KEY,
            partition=self._partition(portal),
            metadata={"status": "failed", "error": error, "reported_by": "worker"},
        )])
