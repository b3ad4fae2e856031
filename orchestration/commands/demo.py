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
from orchestration.pipeline import export, ingest, operations, warehouse
from orchestration.pipeline.settings import Settings

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
    with settings.warehouse.read_published() as con:
        for title, sql in SUMMARY.items():
            cur = con.execute(sql)
            header = [d[0] for d in cur.description]
            lines += ["", title, *export.text_table(header, cur.fetchall())]
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
    demo = warehouse.engine(engine or settings.engine).demo(demo, echo)
    echo(f"Starting the emulator with the demo company (scale {scale:g})…")
    emulator = launcher.start("--dataset", "demo", "--scale", str(scale))
    try:
        started = time.monotonic()
        echo("Syncing it at the portal's real rate limit (2 requests/s)…")
        run = operations.load(demo, operations.Sync(), progress=True, webhook_url=emulator.webhook)
        echo(f"  loaded {sum(run.rows.values()):,} rows in {time.monotonic() - started:.0f} s")
        done = operations.run(demo, operations.Reconcile(), portals=[ingest.MAIN], echo=echo,
                              webhook_url=emulator.webhook)
        echo(summary(demo))
    finally:
        emulator.stop()
    steps = {
        "sync": sum(run.seconds.values()),
        "reconcile": sum(done.runs[0].seconds.values()),
        "dbt build": done.seconds["transform"],
        "publish": done.seconds["publish"],
    }
    split = ", ".join(f"{step} {s:.1f} s" for step, s in steps.items())
    echo(f"\nDone in {time.monotonic() - started:.0f} s ({split}).")
    echo(demo.warehouse.reader_hint())
