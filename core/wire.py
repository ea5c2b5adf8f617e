"""The sync wire format: entities, their synced fields, and the shapes of push and pull messages.

Push (client to server), POST /api/sync/push:
    {"client_id": UUID, "mutations": [Mutation, ...]}
    Mutation = {"id": 1, "op": "put" | "patch" | "delete", "entity": "customers",
                "entity_id": UUID, "fields": {...}, "base_version": 0, "captured_at": ISO-8601}
    Mutation ids are 1, 2, 3, ... per client. `base_version` is the row version the
    client had when the user made the change; the server uses it to detect a
    concurrent edit of the same field.
    Reply: {"last_mutation_id": N, "results": [{"id": 1, "status": "applied" | "rejected" | "duplicate",
            "reason": str | None}], "gap": bool}

Pull (server to client), GET /api/sync/pull?client_id=&cursor=&limit=:
    Reply: {"cursor": N, "has_more": bool, "last_mutation_id": N,
            "changes": [{"seq": N, "entity": "customers", "id": UUID, "op": "put" | "delete" | "evict",
                         "row": {...} | None}]}
    410 Gone with {"code": "resync_required"} when the cursor is older than the tombstone retention.
"""

PROTOCOL_VERSION = 1

# Entities in dependency order: a row may refer only to rows of entities before it.
SYNCED_FIELDS: dict[str, tuple[str, ...]] = {
    "customers": (
        "name", "industry", "address", "province", "city", "district",
        "latitude", "longitude", "coord_system", "owner_id", "region_id",
        # Read-only, filled in by the server from the owner's and region's names.
        "owner_name", "region_name",
    ),
    "contacts": ("customer_id", "name", "title", "decision_role", "phone"),
    "visits": ("customer_id", "rep_id", "visit_type", "checked_in_at", "checked_out_at", "summary"),
    "followups": ("customer_id", "author_id", "text", "captured_at"),
    # Server-written records about sync itself, shown on the record they concern.
    "rejections": ("client_id", "mutation_id", "entity", "entity_id", "op", "reason", "fields", "created_at"),
    "conflicts": ("entity", "entity_id", "field", "lost_value", "won_value", "lost_by", "won_by", "created_at"),
}

ENTITIES: tuple[str, ...] = tuple(SYNCED_FIELDS)

# Entities a client may write through mutations; the rest are written by the server only.
CLIENT_WRITABLE: frozenset[str] = frozenset({"customers", "contacts", "visits", "followups"})

MUTATION_OPS: frozenset[str] = frozenset({"put", "patch", "delete"})
CHANGE_OPS: frozenset[str] = frozenset({"put", "delete", "evict"})

# Largest push a server accepts in one request, and the client's batch size.
MAX_PUSH_MUTATIONS = 500
PUSH_BATCH_SIZE = 200
MAX_PULL_LIMIT = 5000
DEFAULT_PULL_LIMIT = 2000

RESYNC_REQUIRED = "resync_required"
