"""The benchmarks' smoke mode runs in the suite so they cannot rot."""

import subprocess
import sys

from tests.support import ROOT


def test_benchmark_smoke_mode_prints_its_figures():
    result = subprocess.run([sys.executable, "-m", "benchmarks.run", "--smoke"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| 0.05 |" in result.stdout
    assert "batch of 50 chained pages (2,500 rows)" in result.stdout
    assert "| 0.02 | full |" in result.stdout and "| 0.02 | no changes | 0 | 1 |" in result.stdout
    assert "| 0.02 | after 50 changes |" in result.stdout and "ERROR=0" in result.stdout
