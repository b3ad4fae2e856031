"""Dagster: the code location (`definitions`), its assets, jobs, sensors, and the reports of the
event worker's cycles."""

from pathlib import Path

DAGSTER_YAML = Path(__file__).with_name("dagster.yaml")  # the instance settings `dev` copies
