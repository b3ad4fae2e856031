"""A stateful property test: random sequences of REST writes (leads, deals with and without a
lead in roubles or dollars, stage and funnel moves, amount changes, product rows, calls made or
only planned, reassignments, deletions, restores, changes of the dollar's rate) at advancing
portal times, with incremental syncs in between. At the end of every sequence:

(a) the incrementally built warehouse equals a `--full-refresh` build of it, row for row, in
    every mart and incremental model;
(b) the key totals equal an independent computation from the emulator's final state: live leads,
    won revenue, revenue by ad (the attribution rule), revenue and leads per credited manager,
    revenue by product from the won deals' product rows, and who first answered each lead (the
    first call made, not planned). Revenue is in roubles: a dollar deal at the rate the portal
    held at the sync that last read the deal (the model's own record of it, taken from the
    portal as each sync finds it).

Seeded (`derandomize`) and bounded: a handful of sequences, at most five syncs each, no
shrinking (a failure prints its whole sequence of steps). On each engine: DuckDB and PostgreSQL
(whose incremental models take other paths: a lateral join for the manager of a stay).

And a build killed (SIGKILL) while dbt updates an incremental model: the next cycle gives what
a full rebuild gives.
"""

import os
import re
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from emulator.testing import ROOT
from orchestration.pipeline import operations, transform
from orchestration.pipeline.settings import Settings
from tests.scenarios.portal import Portal
from tests.warehouse import settings_env

AD_ID = re.compile(r"^[0-9]{6,}$")  # the ad_id_pattern var
UTM = st.sampled_from([None, "2000000001", "2000000002", "yandex"])
AMOUNTS = st.sampled_from([1500, 4000, 7000, 12500])
CURRENCIES = st.sampled_from(["RUB", "RUB", "USD"])
USD_RATES = st.sampled_from(["80", "90", "100"])
MINUTES = st.integers(min_value=1, max_value=600)
LEAD_STATUSES = ("NEW", "IN_PROCESS", "PROCESSED", "CONVERTED", "JUNK")
OPEN_STAGES = ("PREPARATION", "PREPAYMENT_INVOICE", "EXECUTING")
# Columns that depend on when the build ran, not on the data.
BUILD_TIME = {"days_in_current_stage", "built_at", "last_synced_at"}
SKIPPED = {"mart_pipeline_freshness"}  # the run log's timestamps
MAX_PERIODS = 2  # synced periods after the shared start (itself synced once)
INCREMENTAL_BUILD = transform.Build(data_tests=False, select=("+config.materialized:incremental",))
INDEX = st.integers(min_value=0, max_value=50)  # which record: index modulo the records there
MANAGER = st.integers(min_value=0, max_value=1)
OP = st.one_of(
    st.tuples(st.just("lead"), MINUTES, MANAGER, UTM),
    st.tuples(st.just("lead"), MINUTES, MANAGER, UTM),
    st.tuples(st.just("deal"), MINUTES, st.one_of(st.just(-1), INDEX), AMOUNTS, UTM, MANAGER,
              CURRENCIES),
    st.tuples(st.just("deal"), MINUTES, st.one_of(st.just(-1), INDEX), AMOUNTS, UTM, MANAGER,
              CURRENCIES),
    st.tuples(st.just("move_lead"), MINUTES, INDEX, st.sampled_from(LEAD_STATUSES)),
    st.tuples(st.just("reassign_lead"), MINUTES, INDEX, MANAGER),
    st.tuples(st.just("move_deal"), MINUTES, INDEX,
              st.sampled_from([*OPEN_STAGES, "WON", "WON", "LOSE"]), MANAGER),
    st.tuples(st.just("to_wholesale"), MINUTES, INDEX),
    st.tuples(st.just("amount"), MINUTES, INDEX, AMOUNTS),
    st.tuples(st.just("products"), MINUTES, INDEX, st.lists(AMOUNTS, max_size=2)),
    st.tuples(st.just("answer"), MINUTES, INDEX, MANAGER, st.booleans()),
    st.tuples(st.just("dollar"), MINUTES, USD_RATES),
    st.tuples(st.just("delete"), MINUTES, st.sampled_from(["lead", "deal"]), INDEX),
    st.tuples(st.just("restore"), MINUTES, INDEX),
)


def marts_schema(warehouse: Settings) -> str:
    """Where dbt builds the marts: `marts`, or `marts_build` on Postgres (published by a swap)."""
    return warehouse.warehouse.build_schema


def warehouse_contents(warehouse: Settings) -> dict[str, list]:
    """Every mart and incremental model, rows sorted, build-time columns left out."""
    out = {}
    with warehouse.warehouse.connect(read_only=True) as con:
        tables = con.rows(
            "select table_schema, table_name from information_schema.tables"
            " where table_type = 'BASE TABLE' and table_schema in (?, 'intermediate')",
            [marts_schema(warehouse)])
        for schema, name in tables:
            if name in SKIPPED:
                continue
            cur = con.execute(f'select * from "{schema}"."{name}"')
            keep = [i for i, d in enumerate(cur.description) if d[0] not in BUILD_TIME]
            rows = [tuple(row[i] for i in keep) for row in cur.fetchall()]
            out[f"{schema}.{name}"] = sorted(rows, key=repr)
    return out


class PortalHistory(RuleBasedStateMachine):
    emulator = None  # set by the test
    folder = None
    postgres = None  # the server, when the test runs on Postgres

    @initialize(first_sync=st.booleans(), ops=st.lists(OP, min_size=3, max_size=15))
    def new_portal(self, first_sync, ops):
        """A new portal and its first writes; `first_sync`: the pipeline was installed (and
        synced) before the first record."""
        self.emulator.reset("empty")
        self.now = datetime(2024, 4, 1, 9, 0, tzinfo=UTC)
        path = self.folder.mktemp("portal")
        postgres = {"engine": "postgres",
                    # one name, made anew: dbt parses the project once (see on_postgres)
                    "postgres_url": self.postgres.create_database("warehouse")
                    } if self.postgres else {}
        self.portal = Portal(self.emulator, Settings(
            warehouse_path=path / "warehouse.duckdb", bi_path=path / "bi.duckdb",
            dlt_dir=path / "dlt", portal_timezone=None, alert_webhook_url=None,
            duckdb_memory_limit="1GB", **postgres))
        self.portal.at(self.now.isoformat())
        self.managers = [self.portal.manager(n) for n in ("Анна Смирнова", "Борис Орлов")]
        self.wholesale = self.portal.funnel("Опт")
        self.leads: list[int] = []
        self.deals: list[int] = []
        self.deleted: list[tuple[str, int]] = []
        self.first_manager: dict[int, int] = {}  # lead → its responsible at the first sync
        self.rates = {"RUB": Decimal(1), "USD": Decimal(90)}
        self._dollar("90")
        self.read: dict[int, tuple[str, Decimal]] = {}  # deal → (DATE_MODIFY, rate) last read
        self.periods = 0
        if first_sync:
            self.sync(1, reconcile=False)
        self._seed()
        for op in ops:
            self.write(op)

    def _seed(self) -> None:
        """The start every sequence shares, for what random draws reach rarely: two won dollar
        deals, one read again after the dollar's rate moves and one not, a won rouble deal with
        product rows, a lead with a planned call and then a made one."""
        self._tick(1)
        self._lead(0, "2000000001")
        self._deal(0, 1500, None, 0, "USD")
        self._deal(-1, 4000, "2000000002", 1, "RUB")
        self._products(1, [4000])
        self._deal(-1, 7000, "2000000001", 1, "USD")  # read at 90 ₽ only
        self._answer(0, 0, False)
        self._tick(5)
        self._answer(0, 1, True)
        for deal in self.deals:
            self.portal.update_deal(deal, STAGE_ID="WON")
        self.sync(30, reconcile=False)
        self._tick(1)
        self._dollar("100")
        self.portal.update_deal(self.deals[0], TITLE="Сделка в долларах")

    def _tick(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        self.portal.at(self.now.isoformat())

    # -- writes ------------------------------------------------------------------------------
    def write(self, op: tuple) -> None:
        """One REST write; `op` is (kind, minutes later, arguments…), record picks by index."""
        kind, minutes, *args = op
        self._tick(minutes)
        getattr(self, f"_{kind}")(*args)

    def _pick(self, pool: list, index: int):
        return pool[index % len(pool)] if pool else None

    def _lead(self, manager, utm):
        fields = {"TITLE": "Лид", "ASSIGNED_BY_ID": self.managers[manager]}
        if utm:
            fields["UTM_SOURCE"] = utm
        self.leads.append(self.portal.lead(**fields))

    def _deal(self, lead_index, amount, utm, manager, currency):
        fields = {"title": "Сделка", "opportunity": amount, "currencyId": currency,
                  "assignedById": self.managers[manager]}
        if utm:
            fields["utmSource"] = utm
        if lead_index >= 0 and self.leads:
            fields["leadId"] = self._pick(self.leads, lead_index)
        self.deals.append(self.portal.item(2, **fields))

    def _move_lead(self, index, status):
        if self.leads:
            self.portal.update_lead(self._pick(self.leads, index), STATUS_ID=status)

    def _reassign_lead(self, index, manager):
        if self.leads:
            self.portal.update_lead(self._pick(self.leads, index),
                                    ASSIGNED_BY_ID=self.managers[manager])

    def _open_deal(self, index, funnel: int | None = None) -> dict | None:
        deals = {int(d["ID"]): d for d in self.emulator.records("deal")}
        candidates = [deals[i] for i in self.deals if deals[i]["CLOSED"] == "N"
                      and (funnel is None or int(deals[i]["CATEGORY_ID"]) == funnel)]
        return self._pick(candidates, index)

    def _move_deal(self, index, stage, manager):
        """A stage move of an open deal, maybe by another manager; a closed deal stays closed
        and keeps its manager (so the credit at close is the manager it has now)."""
        deal = self._open_deal(index)
        if deal is not None:
            prefix = "" if deal["CATEGORY_ID"] == "0" else f"C{deal['CATEGORY_ID']}:"
            self.portal.update_deal(int(deal["ID"]), STAGE_ID=prefix + stage,
                                    ASSIGNED_BY_ID=self.managers[manager])

    def _to_wholesale(self, index):
        deal = self._open_deal(index, funnel=0)
        if deal is not None:
            self.portal.update_item(2, int(deal["ID"]), categoryId=self.wholesale)

    def _amount(self, index, amount):
        if self.deals:
            self.portal.update_deal(self._pick(self.deals, index), OPPORTUNITY=amount)

    def _products(self, index, prices):
        """A deal's product rows replaced (maybe by none); its amount follows them."""
        if self.deals:
            rows = [{"PRODUCT_ID": 100 + i, "PRODUCT_NAME": f"Товар {i}", "PRICE": price}
                    for i, price in enumerate(prices)]
            self.portal.call("crm.deal.productrows.set",
                             {"id": self._pick(self.deals, index), "rows": rows})

    def _answer(self, index, manager, made):
        """A call on a lead: made (an answer) or only planned (none)."""
        if self.leads:
            self.portal.call("crm.activity.add", {"fields": {
                "OWNER_TYPE_ID": 1, "OWNER_ID": self._pick(self.leads, index), "TYPE_ID": 2,
                "SUBJECT": "Звонок", "RESPONSIBLE_ID": self.managers[manager],
                "COMPLETED": "Y" if made else "N"}})

    def _dollar(self, amount):
        """The dollar's rate changes on the portal (roubles a dollar)."""
        self.portal.call("crm.currency.update", {"id": "USD", "fields": {"AMOUNT": amount}})
        self.rates["USD"] = Decimal(amount)

    def _delete(self, entity, index):
        pool = self.leads if entity == "lead" else self.deals
        if pool:
            record = self._pick(pool, index)
            pool.remove(record)
            self.portal.delete(entity, record)
            self.deleted.append((entity, record))

    def _restore(self, index):
        if self.deleted:
            entity, record = self._pick(self.deleted, index)
            self.deleted.remove((entity, record))
            self.portal.restore(entity, record)
            (self.leads if entity == "lead" else self.deals).append(record)

    # -- the product -------------------------------------------------------------------------
    @precondition(lambda self: self.periods < MAX_PERIODS)
    @rule(ops=st.lists(OP, min_size=1, max_size=12), reconcile=st.booleans())
    def period(self, ops, reconcile):
        """Some writes, then a sync (and maybe a reconcile) an hour later."""
        for op in ops:
            self.write(op)
        self.sync(60, reconcile)
        self.periods += 1

    def sync(self, minutes: int, reconcile: bool) -> None:
        self._tick(minutes)
        self._observe_first_managers()
        self._observe_reads()
        operations.load(self.portal.settings, operations.Sync(), rate_per_second=0)
        if reconcile:
            operations.load(self.portal.settings, operations.Reconcile(), rate_per_second=0)
        # the incremental models and what they read: the only models whose state carries from
        # one build to the next (every other model is rebuilt whole from them; the teardown
        # builds every model, incrementally, then again from scratch)
        transform.build(self.portal.settings, INCREMENTAL_BUILD)

    def _observe_first_managers(self) -> None:
        """The product credits a lead to the responsible its first sync saw: the model's own
        record of that, from the portal as the sync reads it."""
        for lead in self.emulator.records("lead"):
            self.first_manager.setdefault(int(lead["ID"]), int(lead["ASSIGNED_BY_ID"]))

    def _observe_reads(self) -> None:
        """A sync reads a deal again when it changed since the last sync read it (its
        DATE_MODIFY moved), converting it at the rate the portal holds then."""
        for deal in self.emulator.records("deal"):
            deal_id, modified = int(deal["ID"]), deal["DATE_MODIFY"]
            if self.read.get(deal_id, ("",))[0] != modified:
                self.read[deal_id] = (modified, self.rates[deal["CURRENCY_ID"] or "RUB"])

    def teardown(self):
        if not hasattr(self, "portal"):
            return
        self._tick(1)
        self._observe_first_managers()
        self._observe_reads()
        settings_ = self.portal.settings
        operations.load(settings_, operations.Sync(), rate_per_second=0)
        operations.load(settings_, operations.Reconcile(), rate_per_second=0)
        transform.build(settings_, transform.Build(data_tests=False))
        incremental = warehouse_contents(settings_)
        self._check_totals(settings_)
        transform.build(settings_, transform.Build(data_tests=False, full_refresh=True))
        rebuilt = warehouse_contents(settings_)
        assert incremental.keys() == rebuilt.keys()
        for table in incremental:
            assert incremental[table] == rebuilt[table], table

    def _check_totals(self, warehouse: Settings) -> None:
        leads = {int(r["ID"]): r for r in self.emulator.records("lead")}
        deals = {int(r["ID"]): r for r in self.emulator.records("deal")}
        won = {i: d for i, d in deals.items() if d["STAGE_SEMANTIC_ID"] == "S"}

        def roubles(deal_id: int, amount) -> Decimal:
            return Decimal(str(amount)) * self.read[deal_id][1]

        revenue = sum((roubles(i, d["OPPORTUNITY"]) for i, d in won.items()), Decimal(0))
        by_ad: Counter = Counter()
        by_manager: Counter = Counter()
        for deal_id, deal in won.items():
            lead = leads.get(int(deal["LEAD_ID"] or 0))
            tags = lead if lead is not None and lead["UTM_SOURCE"] else deal
            if tags["UTM_SOURCE"] and AD_ID.match(tags["UTM_SOURCE"]):
                by_ad[tags["UTM_SOURCE"]] += roubles(deal_id, deal["OPPORTUNITY"])
            by_manager[int(deal["ASSIGNED_BY_ID"])] += roubles(deal_id, deal["OPPORTUNITY"])
        taken = Counter(self.first_manager[i] for i in leads)
        by_product: Counter = Counter()
        for deal_id in won:
            for row in self.emulator.call("crm.deal.productrows.get", {"id": deal_id})["result"]:
                by_product[row["PRODUCT_ID"]] += roubles(deal_id, row["PRICE"]) * Decimal(
                    str(row["QUANTITY"]))
        answered = {}
        for call in sorted(self.emulator.records("activity"),
                           key=lambda a: (datetime.fromisoformat(a["START_TIME"]), int(a["ID"]))):
            if (call["OWNER_TYPE_ID"] == "1" and int(call["OWNER_ID"]) in leads
                    and call["COMPLETED"] == "Y"):
                answered.setdefault(int(call["OWNER_ID"]), int(call["RESPONSIBLE_ID"]))

        def rows(sql):
            with warehouse.warehouse.connect(read_only=True) as con:
                return con.rows(sql.replace("marts.", f"{marts_schema(warehouse)}."))

        assert rows("select count(*) from marts.fct_leads") == [(len(leads),)]
        assert rows("select count(*) from marts.fct_deals") == [(len(deals),)]
        assert rows("select coalesce(sum(amount), 0) from marts.fct_deals"
                    " where outcome = 'won'") == [(revenue,)]
        assert rows("select coalesce(sum(revenue), 0), coalesce(sum(leads_received), 0)"
                    " from marts.mart_lead_sources_daily") == [(revenue, len(leads))]
        assert dict(rows("select ad_id, revenue from marts.mart_ad_performance"
                         " where revenue > 0")) == {k: v for k, v in by_ad.items() if v}
        managers = defaultdict(lambda: [0, Decimal(0)])
        for manager, leads_taken, manager_revenue in rows(
            "select manager_id, sum(leads_taken), sum(revenue)"
            " from marts.mart_manager_performance group by 1"
        ):
            managers[manager] = [leads_taken, manager_revenue]
        for manager in set(taken) | set(by_manager) | set(managers):
            assert managers[manager] == [taken[manager], by_manager[manager]], manager
        assert dict(rows("select product_id, sum(revenue) from marts.mart_product_sales"
                         " group by 1")) == {k: v for k, v in by_product.items() if v}
        assert dict(rows("select lead_id, answered_by_manager_id from marts.fct_leads"
                         " where answered_by_manager_id is not null")) == answered


@pytest.mark.slow
@pytest.mark.timeout(1500)
@pytest.mark.parametrize("engine_name", ["duckdb", "postgres"])
def test_incremental_marts_equal_a_full_rebuild_and_an_independent_count(
    emulator, tmp_path_factory, monkeypatch, request, engine_name
):
    monkeypatch.setenv("SOURCES__BITRIX24__WEBHOOK_URL", emulator.webhook)
    PortalHistory.emulator = emulator
    PortalHistory.folder = tmp_path_factory
    PortalHistory.postgres = (request.getfixturevalue("postgres_server")
                              if engine_name == "postgres" else None)
    machine = PortalHistory.TestCase
    machine.settings = settings(
        max_examples=5,
        stateful_step_count=MAX_PERIODS,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    machine().runTest()


BUILD_SCRIPT = "from orchestration.pipeline import operations, settings; " \
               "operations.build(settings.load())"


def _build_killed_while_updating(settings_: Settings, model: str, delay: float) -> bool:
    """The routine build in a process of its own, SIGKILLed `delay` s after dbt starts the
    incremental `model`; whether the kill came before dbt had finished it (its `dbt.log` says
    it started and not that it was created)."""
    log = transform.target_of(settings_) / "logs" / "dbt.log"
    offset = log.stat().st_size if log.exists() else 0
    started = re.compile(rf"START sql incremental model \w+\.{model} ")
    finished = re.compile(rf"OK created sql incremental model \w+\.{model} ")

    def written() -> str:
        if not log.exists():
            return ""
        with log.open(encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            return f.read()

    process = subprocess.Popen([sys.executable, "-c", BUILD_SCRIPT], cwd=ROOT,
                               env={**os.environ, **settings_env(settings_)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while (process.poll() is None and not started.search(written())
           and time.monotonic() < deadline):
        time.sleep(0.002)
    time.sleep(delay)
    process.kill()
    process.wait()
    text = written()
    return (process.returncode == -9 and started.search(text) is not None
            and finished.search(text) is None)


@pytest.mark.parametrize("model", ["int_stage_intervals", "fct_stage_intervals"])
def test_a_build_killed_while_it_updates_an_incremental_model_is_made_good_by_the_next_cycle(
    portal, model
):
    """kill -9 while dbt replaces the stays of the deals a pass touched (`int_stage_intervals`,
    then the mart above it, `fct_stage_intervals`: a delete and an insert in one transaction
    each): the next cycle builds those stays again, so the warehouse equals a full rebuild and
    the stays are the story's. (Whether the killed update left its table as it was is not
    asserted: a kill between dbt's commit and its log line would look like one that came
    before, and the table would rightly have changed.)"""
    anna = portal.manager("Анна Смирнова")
    portal.at("2024-05-02T10:00:00+03:00")
    deals = [portal.deal(TITLE=f"Заказ {n}", OPPORTUNITY=1000 * (n + 1), ASSIGNED_BY_ID=anna)
             for n in range(3)]
    portal.sync()
    moved = 0
    # killed well into the model (its SQL takes ~0.1 s here), or, when dbt had finished it by
    # then, again sooner with the next deal moved
    for delay in (0.04, 0.02, 0.0):
        portal.at(f"2024-05-0{3 + moved}T10:00:00+03:00")
        portal.update_deal(deals[moved], STAGE_ID="PREPARATION")
        moved += 1
        operations.load(portal.settings, operations.Sync(), rate_per_second=0)
        if _build_killed_while_updating(portal.settings, model, delay):
            break
    else:
        pytest.fail(f"no kill came while dbt was updating {model}")

    portal.sync()  # the next cycle
    expected = []
    for n, deal in enumerate(deals):
        if n < moved:  # NEW from the 2nd until its move n + 1 days later, then PREPARATION
            expected += [(deal, "NEW", "PREPARATION", Decimal(n + 1)),
                         (deal, "PREPARATION", None, None)]
        else:
            expected.append((deal, "NEW", None, None))
    assert portal.rows("select record_id, stage_id, next_stage_id, duration_days"
                       " from marts.fct_stage_intervals where entity = 'deal'"
                       " order by record_id, entered_at") == expected
    incremental = warehouse_contents(portal.settings)
    transform.build(portal.settings, transform.Build(data_tests=False, full_refresh=True))
    assert warehouse_contents(portal.settings) == incremental
