"""`bitrix-warehouse demo`: the whole pipeline on the bundled emulator, end to end.

Starts the emulator with the demo company (its real rate limit on), syncs it into a fresh demo
warehouse, builds the marts with dbt, publishes the BI copy and prints what the marts say. The
demo warehouse and its BI copy live in `data/demo/`, apart from the ones `sync` fills, and are
rebuilt on every run. `--portals 3` (`make demo-portals`) runs three portals in three time
zones, each its own emulator with its own company, into one set of marts.
"""

import shutil
import time
from dataclasses import replace

from emulator.http import launcher
from orchestration.pipeline import export, operations, warehouse
from orchestration.pipeline.portals import Portal
from orchestration.pipeline.settings import Settings

# The demo's portals: a seller in Moscow and two branches further east (name, zone, data seed).
PORTALS = (("main", "Europe/Moscow", 42), ("north", "Asia/Yekaterinburg", 43),
           ("east", "Asia/Vladivostok", 44))

SUMMARY = {
    "Portals": """
        select portal, count(*) as leads, sum(deals_won) as deals_won, sum(revenue) as revenue
        from marts.fct_leads group by portal order by portal""",
    "Leads by source (all time)": """
        select source_id, sum(leads_received) as leads, sum(quality_leads) as quality,
               sum(deals_won) as won, sum(revenue) as revenue
        from marts.mart_lead_sources_daily group by 1 order by leads desc limit 6""",
    "Top ads by revenue": """
        select portal, ad_id, ad_group, leads, deals_won, revenue, revenue_per_lead
        from marts.mart_ad_performance order by revenue desc, portal, ad_id limit 5""",
    "Top parts by revenue": """
        select product_name, sum(deals_won) as deals, sum(quantity) as quantity,
               sum(revenue) as revenue
        from marts.mart_product_sales group by product_key, product_name
        order by revenue desc limit 5""",
    "Lead funnel, last complete month": """
        select portal, stage_name, entered, reached,
               round(cast(conversion_from_previous as numeric), 3) as conversion
        from marts.mart_funnel_conversion
        where entity = 'lead' and cohort_month = (
            select max(cohort_month) - interval '1 month' from marts.mart_funnel_conversion)
        order by portal, stage_position""",
    "Data quality": """
        select portal, check_name, failing_rows from marts.mart_data_quality
        where failing_rows > 0 order by portal, failing_rows desc""",
    "Freshness": """
        select portal, entity, row_count, data_as_of, last_synced_at
        from marts.mart_pipeline_freshness order by portal, entity""",
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
    """The demo's own warehouse and BI copy, in `data/demo/` beside the configured ones (its
    portal registry and their webhooks there too)."""
    root = settings.warehouse_path.parent / "demo"
    return replace(settings, warehouse_path=root / "warehouse.duckdb", dlt_dir=root / "dlt",
                   bi_path=root / "bi.duckdb", portals_file=None,
                   secrets_file=root / "secrets.toml")


def run(settings: Settings, scale: float, echo, engine: str | None = None,
        portals: int = 1) -> None:
    """`engine` postgres: the demo's database on the server of POSTGRES_URL, or on the local
    server (`bitrix-warehouse postgres start`) when none is set. `portals`: how many of
    PORTALS, each its own emulator."""
    demo = demo_settings(settings)
    shutil.rmtree(demo.warehouse_path.parent, ignore_errors=True)
    demo = warehouse.engine(engine or settings.engine).demo(demo, echo)
    chosen = PORTALS[:portals]
    emulators = {}
    try:
        for name, zone, seed in chosen:
            echo(f"Starting the emulator of portal {name} ({zone}) with a demo company "
                 f"(scale {scale:g})…")
            emulators[name] = launcher.start("--dataset", "demo", "--scale", str(scale),
                                             "--seed", str(seed), "--timezone", zone)
            if portals > 1:  # the registry; main's webhook is handed over below
                webhook = None if name == "main" else emulators[name].webhook
                demo.registry.add(Portal(name, zone), webhook)
        main = emulators["main"].webhook
        started = time.monotonic()
        echo("Syncing at each portal's real rate limit (2 requests/s)…")
        synced = operations.run(demo, operations.Sync(), rebuild=False, progress=True,
                                echo=echo, webhook_url=main)
        echo(f"  loaded {sum(synced.rows.values()):,} rows in "
             f"{time.monotonic() - started:.0f} s")
        done = operations.run(demo, operations.Reconcile(), echo=echo, webhook_url=main)
        echo(summary(demo))
    finally:
        for emulator in emulators.values():
            emulator.stop()
    seconds = {"sync": sum(synced.seconds.values()),
               "reconcile": sum(sum(r.seconds.values()) for r in done.runs),
               "dbt build": done.seconds["transform"], "publish": done.seconds["publish"]}
    split = ", ".join(f"{step} {s:.1f} s" for step, s in seconds.items())
    echo(f"\nDone in {time.monotonic() - started:.0f} s ({split}).")
    echo(demo.warehouse.reader_hint())
