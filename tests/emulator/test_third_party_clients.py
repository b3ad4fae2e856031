"""The official b24pysdk and fast_bitrix24 work against the emulator unchanged.

b24pysdk builds `https://{domain}/rest/...` URLs, so it talks to an HTTPS emulator whose
certificate comes from a throwaway CA made with trustme and trusted via REQUESTS_CA_BUNDLE.
"""

import pytest

from emulator.testing import make_tls, start_emulator


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory):
    tls = make_tls(tmp_path_factory.mktemp("tls"))
    emu = start_emulator("--dataset", "demo", "--scale", "0.03", "--no-rate-limit", tls=tls)
    yield emu
    emu.stop()


def _store_leads(emu):
    return {int(r["ID"]): r for r in emu.records("lead")}


def test_b24pysdk_lists_every_demo_lead_and_reads_a_batch(tls_emulator, monkeypatch):
    from b24pysdk import BitrixWebhook, Client

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_emulator.verify))
    domain = tls_emulator.base.removeprefix("https://")
    client = Client(BitrixWebhook(domain=domain, webhook_token=f"1/{tls_emulator.secret}"))
    store = _store_leads(tls_emulator)

    fast = client.crm.lead.list(select=["*", "UF_*"]).as_list_fast().result
    listed = list(fast)
    assert sorted(int(r["ID"]) for r in listed) == sorted(store)
    for row in listed:  # every field equals the store's, the 100 KB title included
        assert row == {k: store[int(row["ID"])][k] for k in row}

    paged = client.crm.lead.list(select=["ID"]).as_list().result
    assert sorted(int(r["ID"]) for r in paged) == sorted(store)

    first, second = sorted(store)[:2]
    batch = client.call_batch({
        "a": client.crm.lead.get(bitrix_id=first),
        "b": client.crm.lead.get(bitrix_id=second),
    })
    results = batch.result.result
    assert results["a"]["TITLE"] == store[first]["TITLE"]
    assert results["b"]["ID"] == str(second)
    assert batch.result.result_error == []


@pytest.mark.filterwarnings("ignore:You are selecting all fields")  # fast_bitrix24's advice
def test_fast_bitrix24_lists_every_demo_lead_and_reads_a_batch(tls_emulator):
    from fast_bitrix24 import Bitrix

    bx = Bitrix(tls_emulator.webhook, ssl=False, verbose=False)
    store = _store_leads(tls_emulator)
    leads = bx.get_all("crm.lead.list", {"select": ["*", "UF_*", "PHONE"]})
    assert sorted(int(r["ID"]) for r in leads) == sorted(store)
    for row in leads:
        assert row == {k: store[int(row["ID"])][k] for k in row}

    ids = sorted(store)[:120]
    by_id = bx.get_by_ID("crm.lead.get", ids)
    assert sorted(int(k) for k in by_id) == ids
    history = bx.get_all("crm.stagehistory.list", {"entityTypeId": 1})
    assert len(history) == len(tls_emulator.records("lead_history"))


def test_plain_http_client_still_works_with_fast_bitrix24(emulator):
    from fast_bitrix24 import Bitrix

    for i in range(3):
        emulator.call("crm.deal.add", {"fields": {"TITLE": f"d{i}"}})
    deals = Bitrix(emulator.webhook, ssl=False, verbose=False).get_all("crm.deal.list")
    assert [d["TITLE"] for d in deals] == ["d0", "d1", "d2"]
