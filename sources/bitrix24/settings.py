"""Constants of the Bitrix24 source: protocol limits, streams, field types. No logic."""

PAGE_SIZE = 50  # fixed by the portal
BATCH_SIZE = 50  # commands per `batch`
ROWS_PER_REQUEST = PAGE_SIZE * BATCH_SIZE

# The portal's leaky bucket on standard plans: 2 requests/s, burst 50 (Enterprise: 5/s, 250).
RATE_PER_SECOND = 2.0
BURST = 50

# DATE_MODIFY has one-second resolution and the watermark comes from `server.time`; re-reading a
# couple of minutes covers clock skew between the portal's web and database hosts. Re-read rows
# are recognised by (ID, DATE_MODIFY) and dropped before loading.
OVERLAP_SECONDS = 120

# A first load commits every WINDOW_ROWS records read (see `windows.py`): a window's package is
# what dlt holds, normalizes and merges at once. The read runs ahead of the windows by at most
# READ_AHEAD_ROWS rows (20 requests, 10 s of the portal's rate; about 150 MB, 3 KB a parsed
# row). Measured at demo scale 10 (`benchmarks.run --only first_load`): windows of 50k with a
# read ahead of 100k took as long, 1.20x the rate floor, and peaked at 1,183 MB, not 967.
WINDOW_ROWS = 100_000
READ_AHEAD_ROWS = 50_000

SCOPES = ("crm", "user", "department")  # what the webhook must be created with

MAX_ATTEMPTS = 8  # per request, for retryable failures
REQUEST_TIMEOUT_SECONDS = 90  # the portal itself stops a request at 60 s

LEAD_DATETIMES = ("DATE_CREATE", "DATE_MODIFY", "MOVED_TIME", "DATE_CLOSED", "LAST_ACTIVITY_TIME")
DEAL_DATETIMES = ("DATE_CREATE", "DATE_MODIFY", "MOVED_TIME", "LAST_ACTIVITY_TIME")
DEAL_DATES = ("BEGINDATE", "CLOSEDATE")
LEAD_DATES = ("BIRTHDATE",)
MONEY = ("OPPORTUNITY", "TAX_VALUE")
REQUIRED_DATETIMES = ("DATE_CREATE", "DATE_MODIFY")
_COMMON_INTEGERS = (
    "ID",
    "ASSIGNED_BY_ID",
    "CREATED_BY_ID",
    "MODIFY_BY_ID",
    "MOVED_BY_ID",
    "CONTACT_ID",
    "COMPANY_ID",
    "LAST_ACTIVITY_BY",
)
LEAD_INTEGERS = _COMMON_INTEGERS
DEAL_INTEGERS = (*_COMMON_INTEGERS, "CATEGORY_ID", "LEAD_ID", "PROBABILITY", "QUOTE_ID")
INTEGERS = DEAL_INTEGERS  # every integer field a lead or a deal has

# Standard text fields, declared so that a column empty on every row still exists in the
# warehouse (dlt creates columns only from values it has seen).
_COMMON_TEXTS = (
    "TITLE",
    "SOURCE_ID",
    "SOURCE_DESCRIPTION",
    "CURRENCY_ID",
    "IS_MANUAL_OPPORTUNITY",
    "OPENED",
    "IS_RETURN_CUSTOMER",
    "ORIGINATOR_ID",
    "ORIGIN_ID",
    "UTM_SOURCE",
    "UTM_MEDIUM",
    "UTM_CAMPAIGN",
    "UTM_CONTENT",
    "UTM_TERM",
)
LEAD_TEXTS = (
    *_COMMON_TEXTS,
    "COMPANY_TITLE",
    "STATUS_ID",
    "STATUS_DESCRIPTION",
    "STATUS_SEMANTIC_ID",
    "HAS_PHONE",
    "HAS_EMAIL",
    "HAS_IMOL",
)
DEAL_TEXTS = (
    *_COMMON_TEXTS,
    "TYPE_ID",
    "STAGE_ID",
    "STAGE_SEMANTIC_ID",
    "IS_NEW",
    "IS_RECURRING",
    "IS_REPEATED_APPROACH",
    "CLOSED",
    "ADDITIONAL_INFO",
)

# Customers' personal data (152-ФЗ): fields of leads, deals and contacts that name, locate or
# describe a person, or hold free text about one. No mart needs them, so a pass drops them from
# every row it reads unless the warehouse opts in (`LOAD_PERSONAL_DATA`); they are never typed
# up front, so a warehouse that does not load them has no such columns.
PERSONAL_FIELDS = frozenset({
    "HONORIFIC", "NAME", "SECOND_NAME", "LAST_NAME", "BIRTHDATE", "POST", "COMMENTS",
    "ADDRESS", "ADDRESS_2", "ADDRESS_CITY", "ADDRESS_POSTAL_CODE", "ADDRESS_REGION",
    "ADDRESS_PROVINCE", "ADDRESS_COUNTRY", "ADDRESS_COUNTRY_CODE", "ADDRESS_LOC_ADDR_ID",
    "PHONE", "EMAIL", "WEB", "IM", "LINK",
})
PERSONAL_STREAMS = ("leads", "deals", "contacts")  # the lists whose rows carry such fields
# What the warehouse keeps of an employee (`user.get` also answers e-mail, phones, birthday):
# what names a manager and places him in a department, and whether he still works there.
USER_FIELDS = frozenset({
    "ID", "ACTIVE", "NAME", "LAST_NAME", "WORK_POSITION", "UF_DEPARTMENT", "USER_TYPE",
})

# `deleted_records` (written by reconcile, created with the other tables by a sync).
DELETED_RECORDS_COLUMNS = {
    "entity": {"data_type": "text", "nullable": False},
    "id": {"data_type": "bigint", "nullable": False},
    "is_deleted": {"data_type": "bool"},
    "noticed_at": {"data_type": "timestamp"},
}
RECONCILE_IDS_PER_REQUEST = PAGE_SIZE  # records fetched by ID: one page per `@ID` filter

# Contacts and activities: read incrementally on their own modification time, merged on ID.
CONTACT_DATETIMES = ("DATE_CREATE", "DATE_MODIFY")
CONTACT_DATES = ("BIRTHDATE",)
CONTACT_INTEGERS = ("ID", "ASSIGNED_BY_ID", "CREATED_BY_ID", "MODIFY_BY_ID", "COMPANY_ID",
                    "LEAD_ID")
CONTACT_TEXTS = ("TYPE_ID", "SOURCE_ID", "HAS_PHONE", "HAS_EMAIL", "OPENED", "UTM_SOURCE",
                 "UTM_MEDIUM", "UTM_CAMPAIGN")
ACTIVITY_DATETIMES = ("CREATED", "LAST_UPDATED", "START_TIME", "END_TIME", "DEADLINE")
ACTIVITY_INTEGERS = ("ID", "OWNER_ID", "OWNER_TYPE_ID", "TYPE_ID", "STATUS", "RESPONSIBLE_ID",
                     "PRIORITY", "DIRECTION", "AUTHOR_ID", "EDITOR_ID")
ACTIVITY_TEXTS = ("PROVIDER_ID", "PROVIDER_TYPE_ID", "SUBJECT", "COMPLETED", "ORIGINATOR_ID",
                  "ORIGIN_ID")
# Activities the warehouse reads: only these fields (a description can be a whole e-mail).
ACTIVITY_SELECT = (*ACTIVITY_INTEGERS, *ACTIVITY_TEXTS, *ACTIVITY_DATETIMES)

# Product rows are read for the deals a pass loaded, this many deals to a list command (its
# `=ownerId` array), at most PRODUCT_STREAMS such lists in one batch/keyset read.
PRODUCT_OWNERS_PER_LIST = 200
PRODUCT_STREAMS = BATCH_SIZE - 1  # the first batch of a read also asks `server.time`
PRODUCT_ROW_FIELDS = ("id", "productId", "productName", "price", "quantity", "discountRate",
                      "discountSum", "taxRate", "taxIncluded", "measureName", "sort")
