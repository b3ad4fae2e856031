"""The benchmarks' smoke mode runs in the suite so they cannot rot: each section on its own, at a
tiny scale, printing its figures. The dashboards section is left to `tests/bi`: it drives
Superset and the browser through the same `bi.browser` and `superset.running`, and a second
Superset start here cost 90 s of the suite."""

import re
import subprocess
import sys

import pytest

from emulator.testing import ROOT
from tests.warehouse import MARTS

PUBLISHED = len(MARTS) + 1  # every mart and the run log

EXPECTED = {
    "emulator": [r"\| 0\.05 \|", r"batch of 50 chained pages \(2,500 rows\)"],
    # an idle pass is one request, or two when a list's overlap holds exactly a page (here the
    # 50 changed leads): only a short page ends a list
    "source": [r"\| 0\.02 \| full \|", r"\| 0\.02 \| no changes \| 0 \| [12] \|",
               r"\| 0\.02 \| after 50 changes \|"],
    # one window, within the burst: no floor to compare with
    "first_load": [r"\| duckdb \| 0\.02 \| [\d,]+ \| 1 \| \d+ \| \d+ \| 0 \| [\d.]+ \| — ",
                   r"\| postgres \| 0\.02 \| [\d,]+ \| 1 \| \d+ \| \d+ \| 0 \| [\d.]+ \| — "
                   r"\| [\d /]+ \| \d+ \|"],
    # the publish after a build that made every mart copies them all, and the run log
    "transform": [rf"\| duckdb \| 0\.02 \| full \| [\d.]+ \| [\d.]+ \| [\d.]+ \| {PUBLISHED} \|",
                  rf"\| duckdb \| 0\.02 \| after 50 changes \| [\d.]+ \| [\d.]+ \| [\d.]+ "
                  rf"\| {PUBLISHED} \|"],
    # one change seen in BI_PATH, none missed, no reader error; the cycle's parts
    "freshness": [r"\| 1 \| 0 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 0 \|", r"\| Dagster overhead \|"],
    # both changes seen through the event worker, none missed, no reader error; its cycle
    "events": [r"\| 0\.02 \| 2 \| 0 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| 0 \|", r"\| transform \|"],
    # our export: requests at 1-2× the minimum; under churn nothing missed or duplicated
    # two portals: the rounds and the worker on both, its changes all seen, no reader error
    "portals": [r"\| 2 \| [\d,]+ \| 0 / 0 \| [\d.]+ \| — \| [\d.]+ \([\d.]+ / [\d.]+ / [\d.]+\) "
                r"\| [\d.]+ \| \d+ \| 2 / 0 \| [\d.]+ \| [\d.]+ \| \d+ \| 0 \|"],
    "peers": [r"\| ours \| \d+ \| 1\.\d\d \|", r"\| ours \| \d+ \| 0 \| 0 \|",
              r"\| b24pysdk \|", r"\| mart_attribution \| [\d.]+ \| [\d.]+ \|"],
}


# seconds a section's smoke run may take beside another test worker
SECONDS = 280


@pytest.mark.parametrize("section", [
    pytest.param(section, marks=pytest.mark.timeout(SECONDS + 20))
    for section in sorted(EXPECTED)
])
def test_benchmark_smoke_mode_prints_its_figures(section):
    result = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke", "--only", section],
                            cwd=ROOT, capture_output=True, text=True,
                            timeout=SECONDS)
    assert result.returncode == 0, result.stderr[-3000:]
    for pattern in EXPECTED[section]:
        assert re.search(pattern, result.stdout), (pattern, result.stdout[-3000:])
