"""The dashboards kept as code (bi/dashboards), read as the tests need them."""

import yaml

from orchestration.commands import superset

BUNDLE = superset.BI_DIR / "dashboards"
BANNER = "b1d0a000-0000-4000-8000-000000000200"  # "Data as of", on every dashboard


def _load(folder: str) -> dict[str, dict]:
    return {path.name: yaml.safe_load(path.read_text())
            for path in sorted((BUNDLE / folder).rglob("*.yaml"))}


DATABASES, DATASETS, CHARTS, DASHBOARDS = (
    _load(folder) for folder in ("databases", "datasets", "charts", "dashboards")
)


def chart_uuids(dashboard: dict) -> list[str]:
    return [item["meta"]["uuid"] for item in dashboard["position"].values()
            if isinstance(item, dict) and item.get("type") == "CHART"]
