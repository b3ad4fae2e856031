"""Exports: one published mart to a file people open (Excel, csv, parquet), and text tables for
the terminal. Everything here reads what BI tools read (`Warehouse.read_published`)."""

import errno
import os
from pathlib import Path

from orchestration.pipeline.failures import disk_full, disk_full_hint
from orchestration.pipeline.settings import Settings

EXPORT_FORMATS = ("xlsx", "csv", "parquet")
EXCEL_MAX_ROWS = 1_048_575  # a sheet's 1,048,576 rows less the header


def marts(settings: Settings) -> list[str]:
    with settings.warehouse.read_published() as con:
        return [r[0] for r in con.rows(
            "select table_name from information_schema.tables "
            "where table_schema = 'marts' order by 1")]


def export(settings: Settings, mart: str, fmt: str, out: Path, progress=None) -> int:
    """Write one mart of the published copy to a file; returns the rows written."""
    available = marts(settings)
    if mart not in available:
        raise ValueError(f"no mart {mart!r}; the marts are: {', '.join(available)}")
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}")
    _writable_folder(out)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with settings.warehouse.read_published() as con:
            rows = con.value(f"select count(*) from {con.ident('marts', mart)}")
            if fmt == "xlsx":
                if rows > EXCEL_MAX_ROWS:
                    raise ValueError(
                        f"{mart} has {rows:,} rows, more than an Excel sheet holds "
                        f"({EXCEL_MAX_ROWS:,}): export it as csv or parquet"
                    )
                _write_xlsx(con, mart, tmp, rows, progress)
            else:
                con.export(con.ident("marts", mart), tmp, fmt)
        os.replace(tmp, out)
    except (OSError, *settings.warehouse.errors) as exc:
        if disk_full(exc):
            raise OSError(errno.ENOSPC, f"the export failed: {disk_full_hint(out.parent)}") \
                from exc
        raise
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def _writable_folder(out: Path) -> None:
    """`out`'s folder, created if missing; a clear error when a file stands in its way."""
    for folder in (out.parent, *out.parent.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ValueError(f"cannot write {out}: {folder} is a file, not a folder")
            break
    if out.is_dir():
        raise ValueError(f"cannot write {out}: it is a folder; name a file")
    out.parent.mkdir(parents=True, exist_ok=True)


def _write_xlsx(con, mart: str, path: Path, rows: int, progress) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)  # streams rows: memory stays flat on big marts
    sheet = book.create_sheet(mart[:31])
    cursor = con.execute(f"select * from {con.ident('marts', mart)}")
    sheet.append([d[0] for d in cursor.description])
    done = 0
    while batch := cursor.fetchmany(10_000):
        for row in batch:
            sheet.append([_cell(v) for v in row])
        done += len(batch)
        if progress:
            progress(done, rows)
    book.save(path)


def _cell(value):
    """A value Excel can hold: lists (e.g. example IDs) become comma-separated text."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return str(value)
    return value


def text_table(header: list[str], rows: list) -> list[str]:
    """Rows as aligned text lines, for the terminal."""
    text = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in text)]) for i, h in enumerate(header)]
    lines = ["  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in text]
    return lines
