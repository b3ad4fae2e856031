"""Publishing the BI copy and exporting a mart with the paths people really have (an apostrophe,
Cyrillic), on a disk that fills up, and with paths that cannot be written: every case ends in
the file, or in one line saying what to do, and leaves nothing behind."""

import csv
import errno
import os
import subprocess
from dataclasses import replace

import duckdb
import pytest

from orchestration.pipeline import export
from orchestration.pipeline.settings import Settings


def _warehouse(folder, rows: int = 3) -> Settings:
    """A warehouse file holding one small mart and the run log, as a build leaves them."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = Settings(warehouse_path=folder / "warehouse.duckdb", bi_path=folder / "bi.duckdb",
                        dlt_dir=folder / "dlt", portal_timezone=None, alert_webhook_url=None)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        con.execute("create schema marts")
        con.execute("create schema ops")
        con.execute("create table ops.sync_runs as select 'r1' as run_id")
        con.execute("create table marts.mart_lead_sources_daily as select i as leads, "
                    "'Авито, бампера ' || i || repeat('x', 200) as source from range(?) t(i)",
                    [rows])
    return settings


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_a_bi_path_and_an_export_path_with_an_apostrophe_work(tmp_path, fmt):
    """Regression: `attach '{path}'` and `copy … to '{path}'` were SQL text, so an apostrophe
    in BI_PATH or in `export --out` was a parser error (and an injection point)."""
    bi_path = tmp_path / "Отчёты Ивана's" / "bi.duckdb"
    settings = replace(_warehouse(tmp_path / "wh"), bi_path=bi_path)
    assert settings.warehouse.publish().tables == 2
    out = tmp_path / "it's" / f"it's; drop table x; --.{fmt}"
    assert export.export(settings, "mart_lead_sources_daily", fmt, out) == 3
    if fmt == "csv":
        with out.open(newline="") as f:
            assert next(csv.reader(f)) == ["leads", "source"]
    elif fmt == "parquet":
        with duckdb.connect() as con:
            assert con.execute("select count(*) from read_parquet(?)", [str(out)]).fetchall() \
                == [(3,)]
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]


def test_an_export_into_a_path_under_a_file_says_so_in_one_line(tmp_path):
    settings = _warehouse(tmp_path / "wh")
    settings.warehouse.publish()
    blocker = tmp_path / "report.csv"
    blocker.write_text("a file")
    with pytest.raises(ValueError, match=r"is a file, not a folder"):
        export.export(settings, "mart_lead_sources_daily", "csv", blocker / "x.csv")
    with pytest.raises(ValueError, match=r"it is a folder"):
        export.export(settings, "mart_lead_sources_daily", "csv", tmp_path)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs: a disk that fills up for real (ENOSPC from the kernel)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_publish_on_a_full_disk_says_so_keeps_the_old_copy_and_leaves_no_file_behind(
    tmp_path, small_disk
):
    """Regression: a publish that failed on a full disk left a `.tmp.wal` of 4.5 MB named by
    the process ID, never cleaned, so every failed publish filled the disk further."""
    small = _warehouse(tmp_path / "small_wh", rows=3)
    settings = replace(small, bi_path=small_disk / "bi.duckdb")
    settings.warehouse.publish()  # a copy that fits
    before = sorted(p.name for p in small_disk.iterdir())
    big = replace(_warehouse(tmp_path / "big_wh", rows=60_000), bi_path=settings.bi_path)
    for _ in range(3):
        with pytest.raises(OSError) as failed:
            big.warehouse.publish()
        assert failed.value.errno == errno.ENOSPC
        assert f"the disk holding {small_disk.resolve()} is full" in str(failed.value)
        assert sorted(p.name for p in small_disk.iterdir()) == before
    with duckdb.connect(str(settings.bi_path), read_only=True) as con:
        assert con.execute("select count(*) from marts.mart_lead_sources_daily").fetchall() == [
            (3,)]


def test_an_export_on_a_full_disk_says_so_and_leaves_no_file_behind(tmp_path, small_disk):
    settings = _warehouse(tmp_path / "wh", rows=60_000)
    settings.warehouse.publish()
    with pytest.raises(OSError, match="is full: free space there"):
        export.export(settings, "mart_lead_sources_daily", "csv", small_disk / "big.csv")
    assert list(small_disk.iterdir()) == []
