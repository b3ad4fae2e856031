"""The dashboards kept as code (bi/dashboards, Superset's export format) hold together: every
reference resolves before Superset ever reads them, so a broken edit fails here in a second."""

import pytest
import yaml

from bi.bundle import BANNER, BUNDLE, CHARTS, DASHBOARDS, DATABASES, DATASETS, chart_uuids
from emulator.testing import ROOT
from orchestration.commands import superset
from tests.warehouse import MARTS

MARTS_YML = ROOT / "dbt_project" / "models" / "marts" / "_marts__models.yml"
MART_COLUMNS = {model["name"]: {column["name"] for column in model["columns"]}
                for model in yaml.safe_load(MARTS_YML.read_text())["models"]}


def _saved_metrics(params: dict) -> list[str]:
    """Metrics a chart names by the dataset's saved metric (a string), not by SQL."""
    named = [*params.get("metrics", []), params.get("metric"),
             params.get("timeseries_limit_metric")]
    return [metric for metric in named if isinstance(metric, str)]


def _chart_columns(params: dict) -> set[str]:
    """Columns a chart names: grouped by, shown raw, on the x axis, or filtered on."""
    named = [*params.get("groupby", []), *params.get("all_columns", []),
             *params.get("groupbyRows", []), *params.get("groupbyColumns", []),
             params.get("x_axis"),
             *(where.get("subject") for where in params.get("adhoc_filters", []))]
    return {column for column in named if isinstance(column, str)}


def _dataset_columns(dataset: dict) -> set[str]:
    """A mart's columns as its dbt contract declares them; a virtual dataset's as it lists."""
    if dataset["sql"]:
        return {column["column_name"] for column in dataset["columns"]}
    return MART_COLUMNS[dataset["table_name"]]


def test_every_uuid_in_the_bundle_is_unique():
    uuids = [body["uuid"] for group in (DATABASES, DATASETS, CHARTS, DASHBOARDS)
             for body in group.values()]
    assert len(uuids) == len(set(uuids))


def test_the_one_database_is_the_bi_copy_read_only_and_every_dataset_reads_it():
    (database,) = DATABASES.values()
    assert database["sqlalchemy_uri"] == "__BI_PATH__"
    assert database["extra"]["engine_params"]["connect_args"] == {"read_only": True}
    assert not database["allow_dml"]
    assert {body["database_uuid"] for body in DATASETS.values()} == {database["uuid"]}


def test_physical_datasets_are_marts_of_the_bi_contract():
    physical = {body["table_name"] for body in DATASETS.values() if not body["sql"]}
    assert physical <= MARTS
    assert all(body["schema"] == "marts" for body in DATASETS.values())


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_a_dataset_names_only_columns_its_mart_has(name):
    dataset = DATASETS[name]
    assert {column["column_name"] for column in dataset["columns"]} <= _dataset_columns(dataset)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_a_chart_reads_a_shipped_dataset_and_names_only_its_columns_and_saved_metrics(name):
    chart = CHARTS[name]
    datasets = {body["uuid"]: body for body in DATASETS.values()}
    assert chart["dataset_uuid"] in datasets
    dataset = datasets[chart["dataset_uuid"]]
    assert chart["viz_type"] == chart["params"]["viz_type"]
    assert _chart_columns(chart["params"]) <= _dataset_columns(dataset)
    saved = {metric["metric_name"] for metric in dataset["metrics"]}
    assert set(_saved_metrics(chart["params"])) <= saved


def test_the_dashboards_are_the_five_the_launcher_lists_and_each_opens_with_data_as_of():
    assert sorted(body["slug"] for body in DASHBOARDS.values()) == sorted(superset.DASHBOARDS)
    for body in DASHBOARDS.values():
        first_row = body["position"]["GRID_ID"]["children"][0]
        (banner,) = body["position"][first_row]["children"]
        assert body["position"][banner]["meta"]["uuid"] == BANNER


def test_every_chart_is_on_a_dashboard_and_every_dashboard_chart_is_shipped():
    on_dashboards = {uuid for body in DASHBOARDS.values() for uuid in chart_uuids(body)}
    assert on_dashboards == {body["uuid"] for body in CHARTS.values()}


def test_native_filters_target_shipped_datasets_and_leave_the_banner_alone():
    """…but the portal filter, first on every dashboard and over every chart: the banner then
    says how fresh the chosen portal's data is."""
    datasets = {body["uuid"]: body for body in DATASETS.values()}
    for body in DASHBOARDS.values():
        banner_id = next(item["meta"]["chartId"] for item in body["position"].values()
                         if isinstance(item, dict) and item.get("type") == "CHART"
                         and item["meta"]["uuid"] == BANNER)
        portal, *others = body["metadata"]["native_filter_configuration"]
        assert portal["targets"][0]["column"]["name"] == "portal"
        assert portal["scope"]["excluded"] == []
        for native in others:
            assert native["scope"]["excluded"] == [banner_id], native["name"]
        for native in (portal, *others):
            for target in native["targets"]:
                if "datasetUuid" in target:
                    assert target["datasetUuid"] in datasets, native["name"]


def test_the_bundle_has_no_file_outside_its_four_folders_and_metadata():
    names = {path.relative_to(BUNDLE).parts[0] for path in BUNDLE.rglob("*.yaml")}
    assert names == {"metadata.yaml", "databases", "datasets", "charts", "dashboards"}
    assert yaml.safe_load((BUNDLE / "metadata.yaml").read_text())["type"] == "assets"
