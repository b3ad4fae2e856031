"""Product rows (what a deal sells) of the deals a pass loaded.

API facts relied on (b24restdocs `crm/universal/product-rows/crm-item-productrow-list.md`):
`crm.item.productrow.list` answers `{"productRows": [...]}` in camelCase, 50 rows a page, and its
filter must name `=ownerType` (`D` for deals) and `=ownerId`, which takes an array: one list
command covers many deals, keyset-paged by `>id`. There is no modification time on a row; a deal
whose rows change is itself updated (its amount follows them), so the deals a pass loads are the
ones whose rows may have changed.

Each deal's rows load as one JSON list keyed by the deal: a deal whose rows were all removed
then holds `[]`, which a table of rows merged by row ID could never say.
"""

from collections.abc import Iterable, Iterator

from . import settings
from .client import BitrixClient
from .helpers import parse_int
from .paging import Stream, read_streams
from .tables import Rows

STREAM = "deal_products"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def product_pages(client: BitrixClient, deal_ids: Iterable[int]) -> Iterator[Rows]:
    """Rows of `deal_products` for every deal named: its product rows, `[]` when it has none."""
    ids = sorted(set(deal_ids))
    per_list = settings.PRODUCT_OWNERS_PER_LIST
    per_read = per_list * settings.PRODUCT_STREAMS
    for start in range(0, len(ids), per_read):
        group = ids[start : start + per_read]
        found: dict[int, list] = {deal_id: [] for deal_id in group}
        streams = [
            Stream(
                f"products_{i}",
                "crm.item.productrow.list",
                {"filter": {"=ownerType": "D", "=ownerId": group[j : j + per_list]}},
                id_filter=("filter", ">id"),
                order={"order": {"id": "ASC"}},
                wrapper="productRows",
                id_key="id",
            )
            for i, j in enumerate(range(0, len(group), per_list))
        ]
        read = read_streams(client, streams)
        observed = read.server_time
        for page in read:
            observed = page.observed_at
            for row in page.rows:
                owner = parse_int(row.get("ownerId"))
                if owner in found:
                    found[owner].append(
                        {_snake(k): row.get(k) for k in settings.PRODUCT_ROW_FIELDS}
                    )
        yield Rows(
            STREAM,
            [{"deal_id": deal_id, "product_rows": rows} for deal_id, rows in found.items()],
            observed,
        )
