"""The assets: the portals' raw tables (dlt), the dbt models and tests, and the BI copy - one
lineage graph. The raw tables' keys equal the dbt sources' keys (`bitrix/<table>`), so every
staging model hangs off the dlt asset that loads its table.

The raw tables and the run log are partitioned by portal (`PORTALS`, one dynamic partition per
registered portal, kept equal to the registry by the jobs' schedules): a run loads one portal,
and a portal that fails fails its own runs only. The dbt models and the BI copy are not
partitioned: one set of marts holds every portal, built after the loads.

The dbt build and the BI copy run in the `duckdb_writer` pool: one at a time, never holding a run
slot while waiting. The loads are outside it: portals are read side by side, each commit taking
the warehouse's writer lock (`Warehouse.writing`) for the moment it writes. The
settings reach the assets at run time as the `settings` resource; the builders here take only
what shapes the graph (the freshness policy, the pipeline's tables, the dbt project). Each asset
calls one operation of `orchestration.pipeline.operations`.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
import dlt
from dagster_dbt import DagsterDbtTranslator, DbtProject, dbt_assets
from dagster_dlt import DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData
from pydantic import Field

from orchestration.dagster.dbt_nodes import DbtNodes
from orchestration.pipeline import operations, transform
from orchestration.pipeline.portals import PortalError
from orchestration.pipeline.settings import Settings
from sources.bitrix24 import bitrix24_source

POOL = "duckdb_writer"
PORTALS = dg.DynamicPartitionsDefinition(name="portals")
RAW_GROUP, BI_KEY = "raw", dg.AssetKey(["bi", "bi_copy"])
# The dlt source is built once to list its tables for the asset specs; it never runs, so it
# gets a placeholder webhook and the real one stays in dlt's config, out of Dagster's metadata.
SPEC_WEBHOOK = "https://portal.invalid/rest/1/placeholder/"


def freshness(settings: Settings) -> dg.FreshnessPolicy:
    window = timedelta(minutes=settings.stale_after_minutes)
    return dg.FreshnessPolicy.time_window(fail_window=window)


class IngestConfig(dg.Config):
    """What the ingest step loads: the incremental `sync` (default), a `backfill` of a window of
    creation dates, or the deletion `reconcile` (see `orchestration.pipeline.operations`)."""

    mode: operations.Mode = "sync"
    since: str | None = None  # backfill: first day, YYYY-MM-DD (portal time)
    until: str | None = None  # backfill: day after the window; default: open
    # backfill: leads and/or deals
    entities: list[str] = Field(default_factory=lambda: list(operations.ENTITIES))

    def request(self) -> operations.Load:
        try:
            return operations.request(self.mode, self.since, self.until, self.entities)
        except operations.InvalidRequest as exc:
            raise dg.Failure(f"{self.mode}: {exc}") from None


class RawTranslator(DagsterDltTranslator):
    def __init__(self, policy: dg.FreshnessPolicy) -> None:
        super().__init__()
        self.policy = policy

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        return (
            super()
            .get_asset_spec(data)
            .replace_attributes(
                key=dg.AssetKey(["bitrix", data.resource.name]),
                deps=[],  # no phantom upstream: the portal is outside the graph
                group_name=RAW_GROUP,
                freshness_policy=self.policy,
            )
        )


SYNC_RUNS_KEY = dg.AssetKey(["ops", "sync_runs"])


def raw_assets(policy: dg.FreshnessPolicy, pipeline: dlt.Pipeline) -> dg.AssetsDefinition:
    # The ingest step also appends to the run log, which the freshness mart reads: its spec
    # joins the tables' so the graph shows who writes it.
    specs = [
        # without the source, pipeline and translator objects dagster-dlt's resource would need
        spec.replace_attributes(
            metadata={k: v for k, v in spec.metadata.items() if not k.startswith("dagster_dlt/")}
        )
        for spec in build_dlt_asset_specs(
            dlt_source=bitrix24_source(webhook_url=SPEC_WEBHOOK),
            dlt_pipeline=pipeline,
            dagster_dlt_translator=RawTranslator(policy),
        )
    ]
    run_log = dg.AssetSpec(
        SYNC_RUNS_KEY,
        group_name=RAW_GROUP,
        kinds={"duckdb"},
        description="The pipeline's run log: one row per sync, backfill or reconcile run.",
    )

    @dg.multi_asset(
        specs=[*specs, run_log], name="bitrix24_raw", partitions_def=PORTALS
    )
    def bitrix24_raw(
        context: dg.AssetExecutionContext,
        config: IngestConfig,
        settings: dg.ResourceParam[Settings],
    ):
        try:
            portal = settings.registry.get(context.partition_key)
        except PortalError as exc:  # removed from the registry since the run was requested
            raise dg.Failure(str(exc)) from None
        # dagster-dlt's resource is not used: it fails on a second run in one process
        # (dagster#34052), and our runner also finishes a killed run's packages, loads parquet,
        # caps DuckDB's memory and writes the run log.
        result = operations.load(settings, config.request(), portal=portal)
        context.log.info(
            f"{portal.name}: {config.mode}: {sum(result.rows.values()):,} rows loaded"
        )
        yield dg.MaterializeResult(asset_key=SYNC_RUNS_KEY, metadata={"run_id": result.run_id})
        for spec in specs:
            yield dg.MaterializeResult(
                asset_key=spec.key,
                metadata={
                    "rows_loaded": result.rows.get(spec.key.path[-1], 0),
                    "mode": config.mode,
                    "data_as_of": str(result.data_as_of or ""),
                    **{f"{step}_seconds": round(s, 2) for step, s in result.seconds.items()},
                },
            )

    return bitrix24_raw


def dbt_project(settings: Settings) -> DbtProject:
    # The manifest describes the project, not a warehouse: one for every warehouse, in dbt's
    # usual place; each warehouse's runs get their own target folder (see `marts_assets`).
    transform.ensure_manifest(settings, transform.PROJECT_DIR / "target")
    return DbtProject(project_dir=transform.PROJECT_DIR, profiles_dir=transform.PROJECT_DIR)


class MartsTranslator(DagsterDbtTranslator):
    def __init__(self, policy: dg.FreshnessPolicy) -> None:
        super().__init__()
        self.policy = policy

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = self.get_resource_props(manifest, unique_id)
        if node["resource_type"] == "model" and node["config"].get("schema") == "marts":
            spec = spec.replace_attributes(freshness_policy=self.policy)
        return spec

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["config"].get("schema") or "dbt"


def marts_assets(policy: dg.FreshnessPolicy, project: DbtProject) -> dg.AssetsDefinition:
    translator = MartsTranslator(policy)
    nodes = DbtNodes(project.manifest_path, translator)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        name="bitrix_dbt",
        dagster_dbt_translator=translator,
        pool=POOL,
    )
    def bitrix_dbt(context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]):
        # dbt runs in this process, as the CLI and the worker run it (`transform.build`): a
        # `dbt` subprocess (dagster-dbt's resource) paid its start-up and a parse on every run,
        # ~15 s of a ~20 s step at demo scale. Each model and data test is reported as
        # dagster-dbt would: a materialization of the model's asset, a result of the test's check.
        select = nodes.selectors(context.selected_asset_keys) if context.is_subset else ()
        error = None
        try:
            with settings.warehouse.writing():
                results = transform.build(settings, transform.Build(select=select))
        except transform.BuildFailed as exc:
            results, error = exc.results, exc
        built = dict(nodes.built(results))
        for key in nodes.models():
            if key not in context.selected_asset_keys:
                continue
            if key in built:
                yield dg.MaterializeResult(asset_key=key, metadata=built[key])
            elif error is None:
                # left out by a routine build, as current as the data it reads: a view that
                # cannot have changed, every mart after passes that loaded nothing (its
                # freshness policy would otherwise fail on a quiet portal)
                yield dg.MaterializeResult(asset_key=key, metadata={"unchanged": True})
        for check in nodes.checked(results):
            if check.key in context.selected_asset_check_keys:
                yield dg.AssetCheckResult(asset_key=check.key.asset_key,
                                          check_name=check.key.name, passed=check.passed,
                                          severity=check.severity, metadata=check.metadata)
        if error is not None:
            raise dg.Failure(str(error))

    return bitrix_dbt


def bi_copy_asset(policy: dg.FreshnessPolicy, marts: dg.AssetsDefinition) -> dg.AssetsDefinition:
    mart_keys = [key for key in marts.keys if key.path[0] == "marts"]

    @dg.asset(
        key=BI_KEY,
        deps=mart_keys,
        group_name="bi",
        kinds={"duckdb"},
        pool=POOL,
        freshness_policy=policy,
        description=(
            "The marts published for BI tools at BI_PATH: written to a new file (DuckDB storage "
            "v1.4.0) and swapped in atomically, so readers never see a lock or a half-built mart."
        ),
    )
    def bi_copy(
        context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings]
    ) -> dg.MaterializeResult:
        published = operations.publish(settings)
        return dg.MaterializeResult(
            metadata={
                "published to": settings.warehouse.location(),
                "tables": published.tables,
                "rows": published.rows,
                "seconds": round(published.seconds, 2),
            }
        )

    return bi_copy
