"""Customers' personal data (152-ФЗ): a default warehouse holds none of it anywhere — raw tables,
dlt's staging copies and working folder, the marts, the BI copy, exports, logs — and one that
opted in and then out has it erased."""

from dataclasses import replace
from datetime import date

from orchestration.pipeline import export, operations

# What a customer tells a seller, written through the REST API; each value unique to this test.
PERSON = {
    "HONORIFIC": "HNR_MRS", "NAME": "Евдокия~q7x", "SECOND_NAME": "Тихоновна~q7x",
    "LAST_NAME": "Пантелеева~q7x", "BIRTHDATE": "1987-06-05", "POST": "Завхоз~q7x",
    "ADDRESS": "ул. Окружная, 77~q7x", "ADDRESS_CITY": "Сызрань~q7x",
    "COMMENTS": "звонить после 18, дочь Алина~q7x",
    "PHONE": [{"VALUE": "+79990007711", "VALUE_TYPE": "WORK"}],
}
# "~" is in no base64 alphabet: dlt's state and schemas are kept compressed and base64-encoded,
# and a bare "q7x" turned up in them by chance about one run in seven.
MARKS = ("~q7x", "1987-06-05", "79990007711")


def _portal(emulator) -> dict:
    lead = emulator.call("crm.lead.add", {"fields": {
        **PERSON, "TITLE": "Бампер", "UTM_SOURCE": "avito-1"}})["result"]
    contact = emulator.call("crm.contact.add", {"fields": PERSON})["result"]
    deal = emulator.call("crm.deal.add", {"fields": {
        "TITLE": "Бампер", "CONTACT_ID": contact, "OPPORTUNITY": 4500,
        "COMMENTS": PERSON["COMMENTS"]}})["result"]
    return {"lead": lead, "contact": contact, "deal": deal}


def _everything(settings) -> str:
    """Every value of every table the warehouse holds, as text."""
    out = []
    with settings.warehouse.connect(read_only=True) as con:
        tables = con.rows("select table_schema, table_name from information_schema.tables "
                          "where table_schema not in ('information_schema', 'pg_catalog')")
        for schema, table in tables:
            out += [repr(row) for row in con.rows(f"select * from {con.ident(schema, table)}")]
    return "\n".join(out)


def _files(folder) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace")
                     for p in folder.rglob("*") if p.is_file())


def test_a_default_warehouse_holds_no_customers_personal_data_anywhere(
    any_warehouse, emulator, tmp_path, capfd
):
    settings = any_warehouse
    ids = _portal(emulator)
    operations.run(settings, operations.Sync())
    for fmt in export.EXPORT_FORMATS:
        export.export(settings, "fct_leads", fmt, tmp_path / "out" / f"leads.{fmt}")
    held = _everything(settings)
    assert str(ids["lead"]) in held and "avito-1" in held  # what the marts need is there
    places = {"warehouse": held, "dlt's folder": _files(settings.dlt_dir),
              "exports": _files(tmp_path / "out"), "output": "".join(capfd.readouterr())}
    if settings.engine == "duckdb":
        places["BI copy"] = _everything(replace(settings, warehouse_path=settings.bi_path))
    for place, text in places.items():
        assert not [m for m in MARKS if m in text], place


def test_a_warehouse_that_opts_in_holds_them_and_erases_them_when_it_opts_out(
    any_warehouse, emulator
):
    settings = replace(any_warehouse, load_personal_data=True)
    ids = _portal(emulator)
    operations.load(settings, operations.Sync(), rate_per_second=0)
    with settings.warehouse.connect(read_only=True) as con:
        lead = con.rows("select name, last_name, birthdate, comments from bitrix_raw.leads")
        contact = con.rows("select name, post from bitrix_raw.contacts")
    assert lead == [("Евдокия~q7x", "Пантелеева~q7x", date(1987, 6, 5),
                     "звонить после 18, дочь Алина~q7x")]
    assert contact == [("Евдокия~q7x", "Завхоз~q7x")]

    emulator.call("crm.lead.update", {"id": ids["lead"], "fields": {"TITLE": "Бампер и фара"}})
    operations.load(replace(settings, load_personal_data=False), operations.Sync(),
                    rate_per_second=0)
    held = _everything(settings)
    assert "Бампер и фара" in held and not [m for m in MARKS if m in held]
    with settings.warehouse.connect(read_only=True) as con:
        erased = con.rows("select erased_at from ops.personal_data")
    assert len(erased) == 1
