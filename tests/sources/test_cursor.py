"""The cursor's pure parts: re-read recognition and dictionary snapshots."""

from sources.bitrix24.helpers import row_hash
from sources.bitrix24.state import dictionary_changes, unseen
from tests.warehouse import sync, table


def _row(record_id, modified, title="t"):
    return {"ID": str(record_id), "DATE_MODIFY": modified, "TITLE": title}


def test_a_row_reread_unchanged_is_dropped_and_a_same_second_edit_is_kept():
    first = _row(1, "2024-05-01T10:00:00+03:00")
    seen = {1: [1714546800.0, row_hash(first)]}
    fresh = {}
    rows, hashes = unseen([first, _row(1, "2024-05-01T10:00:00+03:00", "edited")], seen, fresh,
                           horizon=0)
    assert [r["TITLE"] for r in rows] == ["edited"]
    assert hashes == [row_hash(rows[0])]
    assert fresh == {1: [1714546800.0, hashes[0]]}


def test_rows_older_than_the_overlap_are_not_remembered():
    fresh = {}
    rows, _ = unseen([_row(2, "2024-05-01T10:00:00+03:00")], {}, fresh, horizon=1714546801.0)
    assert len(rows) == 1 and fresh == {}


def test_a_row_without_a_readable_date_modify_still_loads():
    rows, _ = unseen([_row(3, "")], {}, {}, horizon=0)
    assert rows == [_row(3, "")]


def test_dictionary_changes_are_new_changed_and_removed_rows():
    state = {}
    first = [{"ID": "1", "NAME": "a"}, {"ID": "2", "NAME": "b"}]
    assert [r["ID"] for r in dictionary_changes(state, "statuses", "ID", first)] == ["1", "2"]
    assert dictionary_changes(state, "statuses", "ID", first) == []
    second = [{"ID": "1", "NAME": "a2"}]
    assert dictionary_changes(state, "statuses", "ID", second) == [
        {"ID": "1", "NAME": "a2", "is_deleted": False},
        {"ID": "2", "NAME": "b", "is_deleted": True},
    ]
    assert dictionary_changes(state, "statuses", "ID", second) == []  # a removal is written once


def test_a_new_stage_reaches_the_warehouse_on_the_next_pass(warehouse, demo):
    sync(warehouse)
    demo.call("crm.status.add", {"fields": {"ENTITY_ID": "DEAL_STAGE_1", "STATUS_ID": "C1:UC_X",
                                            "NAME": "Новая стадия", "SORT": 25}})
    assert sync(warehouse) == {"statuses": 1}
    names = {r["status_id"]: r["name"] for r in table(warehouse, "statuses")}
    assert names["C1:UC_X"] == "Новая стадия"
