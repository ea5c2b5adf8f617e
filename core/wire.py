"""The sync wire format: entities, their synced fields, and the shapes of push and pull messages.

Push (client to server), POST /api/sync/push:
    {"client_id": UUID, "mutations": [Mutation, ...]}
    Mutation = {"id": 1, "op": "put" | "patch" | "delete", "entity": "customers",
                "entity_id": UUID, "fields": {...}, "base_version": 0, "captured_at": ISO-8601}
    Mutation ids are 1, 2, 3, ... per client. `base_version` is the row version the
    client had when the user made the change; the server uses it to detect a
    concurrent edit of the same field.
    The request's HTTP Date header, when sent, is the device clock at sending; the server
    compares it with its own clock to flag check-ins timed by a wrong device clock.
    Reply: {"last_mutation_id": N, "results": [{"id": 1, "status": "applied" | "rejected" | "duplicate",
            "reason": str | None}], "gap": bool}

Pull (server to client), GET /api/sync/pull?client_id=&cursor=&limit=:
    Reply: {"cursor": N, "has_more": bool, "last_mutation_id": N,
            "changes": [{"seq": N, "entity": "customers", "id": UUID, "op": "put" | "delete" | "evict",
                         "row": {...} | None}]}
    410 Gone with {"code": "resync_required"} when the cursor is older than the tombstone retention.
"""

PROTOCOL_VERSION = 1

# Fields a one-line follow-up (customer or member) gets from structuring its text. They are how
# it was entered ("voice" or "typed"), baby age in months, life stage, product ids, intent, days
# to the next contact, and the id of the suggested talk track the author chose.
FOLLOWUP_STRUCTURE_FIELDS: tuple[str, ...] = (
    "input_method", "baby_age_months", "life_stage", "product_ids", "intent", "followup_in_days", "talk_track_id",
)

# Entities in dependency order: a row may refer only to rows of entities before it.
SYNCED_FIELDS: dict[str, tuple[str, ...]] = {
    "customers": (
        "name", "industry", "address", "province", "city", "district",
        "latitude", "longitude", "coord_system", "owner_id", "region_id",
        # Read-only, set by administrators: metres, None for the server's default radius.
        "geofence_radius_m",
        # Read-only, filled in by the server from the owner's and region's names.
        "owner_name", "region_name",
    ),
    "contacts": ("customer_id", "name", "title", "decision_role", "phone"),
    # Read-only, written by administrators; sent to every signed-in user.
    "checklist_templates": ("visit_type", "name", "revision", "items", "active", "created_at"),
    "visits": (
        "customer_id", "rep_id", "visit_type", "checked_in_at", "checked_out_at", "summary",
        # The check-in: the fix, the device time of the tap (captured_at), and the template.
        "checkin_latitude", "checkin_longitude", "checkin_accuracy_m", "checkin_coord_system",
        "checkin_fix_at", "checkin_mocked", "captured_at", "status", "template_id",
        # Read-only, written by the server: receive time, check-out duration, geofence re-check.
        "server_received_at", "duration_s", "geofence",
    ),
    "checklist_answers": ("visit_id", "customer_id", "item_id", "value", "photo_id"),
    # Read-only: check-ins that failed the server's re-check, for the rep and the region's lead.
    "checkin_flags": ("visit_id", "customer_id", "rep_id", "region_id", "reasons", "details", "created_at"),
    "followups": ("customer_id", "author_id", "text", "captured_at", *FOLLOWUP_STRUCTURE_FIELDS),
    # A store's loyalty members, sent to the store's clerks and managers. The server sends
    # `phone` masked (138****5678); a tablet registering a member puts the full number once.
    "members": ("store_id", "member_code", "name", "phone", "baby_birth_date", "allergens", "created_at"),
    # Read-only: purchase history from the store's till, amounts in fen (0.01 yuan).
    "member_purchases": ("member_id", "store_id", "purchased_at", "product_name", "quantity", "amount_fen"),
    # store_id and author_name are set by the server from the member and the author.
    "member_followups": ("member_id", "store_id", "author_id", "author_name", "text", "captured_at", *FOLLOWUP_STRUCTURE_FIELDS),
    # The audit log of opened member profiles; each row goes back to its viewer's devices only.
    # source: camera, wedge, typed or list. viewer_id, store_id and received_at are set by the server.
    "profile_views": ("member_id", "viewer_id", "store_id", "viewed_at", "source", "received_at"),
    # Read-only: each customer's latest health score and its reasons (JSON objects), from server.scoring.
    "score_snapshots": (
        "customer_id", "model_version", "score", "band", "previous_score", "trend", "band_since",
        "effective_weights", "indicators", "explanation", "computed_at",
    ),
    # The recipient's inbox of alerts and escalations. Its recipient may patch state, read_at and
    # done_at (new -> read -> done); everything else is written by the server.
    "alerts": ("recipient_id", "kind", "state", "customer_id", "lead_id", "reason", "data", "created_at", "read_at", "done_at"),
    # Server-written records about sync itself, shown on the record they concern.
    "rejections": ("client_id", "mutation_id", "entity", "entity_id", "op", "reason", "fields", "created_at"),
    "conflicts": ("entity", "entity_id", "field", "lost_value", "won_value", "lost_by", "won_by", "created_at"),
}

ENTITIES: tuple[str, ...] = tuple(SYNCED_FIELDS)

# Entities a client may write through mutations; the rest are written by the server only.
CLIENT_WRITABLE: frozenset[str] = frozenset({
    "customers", "contacts", "visits", "followups", "checklist_answers", "members", "member_followups", "profile_views",
    "alerts",
})
# Fields of an alert its recipient may patch through sync.
ALERT_WRITABLE_FIELDS: frozenset[str] = frozenset({"state", "read_at", "done_at"})

MUTATION_OPS: frozenset[str] = frozenset({"put", "patch", "delete"})
CHANGE_OPS: frozenset[str] = frozenset({"put", "delete", "evict"})

# Largest push a server accepts in one request, and the client's batch size.
MAX_PUSH_MUTATIONS = 500
PUSH_BATCH_SIZE = 200
MAX_PULL_LIMIT = 5000
DEFAULT_PULL_LIMIT = 2000

RESYNC_REQUIRED = "resync_required"
