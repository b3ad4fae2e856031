"""`bitrix-warehouse demo`: the whole pipeline on the bundled emulator, end to end.

Starts the emulator with the demo company (its real rate limit on), syncs it into a fresh demo
warehouse, builds the marts with dbt, publishes the BI copy and prints what the marts say. The
demo warehouse and its BI copy live in `data/demo/`, apart from the ones `sync` fills, and are
rebuilt on every run.
"""

import shutil
import time
from dataclasses import replace

from emulator.http import launcher
from orchestration.pipeline import bi, operations, postgres
from orchestration.pipeline.settings import Settings
from sources.bitrix24.errors import redact_webhooks

DEMO_DATABASE = "bitrix_demo"  # on the postgres engine: the demo's own database, made anew

SUMMARY = {
    "Leads by source (all time)": """
        select source_id, sum(leads_received) as leads, sum(quality_leads) as quality,
               sum(deals_won) as won, sum(revenue) as revenue
        from marts.mart_lead_sources_daily group by 1 order by leads desc limit 6""",
    "Top ads by revenue": """
        select ad_id, ad_group, leads, deals_won, revenue, revenue_per_lead
        from marts.mart_ad_performance order by revenue_rank, ad_id limit 5""",
    "Top parts by revenue": """
        select product_name, sum(deals_won) as deals, sum(quantity) as quantity,
               sum(revenue) as revenue
        from marts.mart_product_sales group by product_key, product_name
        order by revenue desc limit 5""",
    "Lead funnel, last complete month": """
        select stage_name, entered, reached,
               round(cast(conversion_from_previous as numeric), 3) as conversion
        from marts.mart_funnel_conversion
        where entity = 'lead' and cohort_month = (
            select max(cohort_month) - interval '1 month' from marts.mart_funnel_conversion)
        order by stage_position""",
    "Data quality": """
        select check_name, failing_rows from marts.mart_data_quality
        where failing_rows > 0 order by failing_rows desc""",
    "Freshness": """
        select entity, row_count, data_as_of, last_synced_at
        from marts.mart_pipeline_freshness""",
}


def summary(settings: Settings) -> str:
    lines = []
    with bi.connect(settings) as con:
        for title, sql in SUMMARY.items():
            cur = con.execute(sql)
            lines += ["", title, *bi.text_table([d[0] for d in cur.description], cur.fetchall())]
    return "\n".join(lines)


def demo_settings(settings: Settings) -> Settings:
    """The demo's own warehouse and BI copy, in `data/demo/` beside the configured ones."""
    root = settings.warehouse_path.parent / "demo"
    return replace(settings, warehouse_path=root / "warehouse.duckdb", dlt_dir=root / "dlt",
                   bi_path=root / "bi.duckdb")


def run(settings: Settings, scale: float, echo, engine: str | None = None) -> None:
    """`engine` postgres: the demo's database on the server of POSTGRES_URL, or on the local
    server (`bitrix-warehouse postgres start`) when none is set."""
    demo = demo_settings(settings)
    shutil.rmtree(demo.warehouse_path.parent, ignore_errors=True)
    if (engine or settings.engine) == "postgres":
        server = settings.postgres_url or postgres.local_server().start().url()
        echo(f"Making the demo's database {DEMO_DATABASE} on PostgreSQL…")
        demo = replace(demo, engine="postgres",
                       postgres_url=postgres.recreate_database(server, DEMO_DATABASE))
    echo(f"Starting the emulator with the demo company (scale {scale:g})…")
    emulator = launcher.start("--dataset", "demo", "--scale", str(scale))
    try:
        started = time.monotonic()
        echo("Syncing it at the portal's real rate limit (2 requests/s)…")
        run = operations.load(demo, operations.Sync(), progress=True, webhook_url=emulator.webhook)
        echo(f"  loaded {sum(run.rows.values()):,} rows in {time.monotonic() - started:.0f} s")
        done = operations.run(demo, operations.Reconcile(), echo=echo, webhook_url=emulator.webhook)
        echo(summary(demo))
    finally:
        emulator.stop()
    steps = {
        "sync": sum(run.seconds.values()),
        "reconcile": sum(done.run.seconds.values()),
        "dbt build": done.seconds["transform"],
        "publish": done.seconds["publish"],
    }
    split = ", ".join(f"{step} {s:.1f} s" for step, s in steps.items())
    echo(f"\nDone in {time.monotonic() - started:.0f} s ({split}).")
    if demo.engine == "postgres":
        echo(f"""
Point a BI tool (Superset, DataLens, Metabase, DBeaver) at PostgreSQL, schema marts:
  {redact_webhooks(demo.postgres_url)}   (the password: `bitrix-warehouse postgres url`)
Every sync swaps the tested marts in whole; readers never see a half-built set.""")
        return
    echo(f"""
Point a BI tool (Superset, DataLens, Metabase, DBeaver) or Python at the published copy:
  {demo.bi_path.resolve()}   (DuckDB, read-only, schema marts; storage v1.4 for older drivers)
Open the ready dashboards (leads and sources, ads, funnel, managers, deals) in Superset:
  make bi   (then open the address it prints; it serves this demo's copy until BI_PATH exists)
Export a mart for Excel (with BI_PATH={demo.bi_path}):
  bitrix-warehouse export mart_lead_sources_daily --format xlsx --out leads.xlsx
Watch the pipeline run itself every minute, against the emulator in live mode, in the Dagster UI:
  make dev   (then open http://127.0.0.1:3000)""")
