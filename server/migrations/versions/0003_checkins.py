"""check-ins: visit check-in columns, checklist templates and answers, check-in flags, photos

Also inserts the default checklist template for routine visits, with its change-log
entry for every user, so a new production database has a checklist before anyone
configures one (the demo seed runs after the migrations and gets it the same way).
Existing visits with a check-out time become completed, with their duration.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 22:04:22.525687
"""
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_TEMPLATE_ID = uuid.UUID("ab0c0638-fe03-4fb6-9017-cc791cdf141d")
# Frozen copy of the first default template; later revisions are made through the admin API.
DEFAULT_TEMPLATE_ITEMS = [
    {"id": "samples", "label": "带新品样品了吗？", "type": "yes_no", "required": True},
    {"id": "competitor_photo", "label": "更新竞品陈列照片", "type": "photo", "required": True},
    {
        "id": "next_step", "label": "下一步已约定", "type": "choice", "required": True,
        "options": ["再次拜访", "样品试用", "发送报价", "技术交流", "商务谈判"],
    },
]


# Tables naming a synced entity: "checklist_templates" and "checklist_answers" need more than 16 characters.
_ENTITY_NAME_TABLES = ('sync_changes', 'sync_conflicts', 'sync_rejections')


def upgrade() -> None:
    for table in _ENTITY_NAME_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('entity', existing_type=sa.String(length=16), type_=sqlmodel.sql.sqltypes.AutoString(length=32), existing_nullable=False)

    op.create_table('checklist_templates',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('visit_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('visit_type', 'revision', name='uq_checklist_templates_visit_type_revision')
    )
    with op.batch_alter_table('checklist_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_templates_version'), ['version'], unique=False)
        batch_op.create_index(batch_op.f('ix_checklist_templates_visit_type'), ['visit_type'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('geofence_radius_m', sa.Float(), nullable=True))

    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_latitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('checkin_longitude', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('checkin_accuracy_m', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('checkin_coord_system', sa.Enum('wgs84', 'gcj02', 'bd09', name='coordsystem', native_enum=False, length=8), nullable=False, server_default='wgs84'))
        batch_op.add_column(sa.Column('checkin_fix_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('checkin_mocked', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('server_received_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('duration_s', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('status', sa.Enum('open', 'completed', name='visitstatus', native_enum=False, length=16), nullable=False, server_default='open'))
        batch_op.add_column(sa.Column('template_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('geofence', sa.JSON(), nullable=True))
        batch_op.create_index('ix_visits_rep_captured_at', ['rep_id', 'captured_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_visits_template_id'), ['template_id'], unique=False)
        batch_op.create_foreign_key('fk_visits_template_id_checklist_templates', 'checklist_templates', ['template_id'], ['id'])

    op.create_table('checkin_flags',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('visit_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('rep_id', sa.Uuid(), nullable=False),
    sa.Column('region_id', sa.Uuid(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['regions.id'], ),
    sa.ForeignKeyConstraint(['rep_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('visit_id')
    )
    with op.batch_alter_table('checkin_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_flags_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkin_flags_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkin_flags_region_id'), ['region_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkin_flags_rep_id'), ['rep_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checkin_flags_version'), ['version'], unique=False)

    op.create_table('checklist_answers',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('visit_id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('item_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('value', sa.JSON(), nullable=True),
    sa.Column('photo_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('checklist_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checklist_answers_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_checklist_answers_version'), ['version'], unique=False)
        batch_op.create_index(batch_op.f('ix_checklist_answers_visit_id'), ['visit_id'], unique=False)

    op.create_table('photos',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('visit_id', sa.Uuid(), nullable=False),
    sa.Column('uploaded_by', sa.Uuid(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['uploaded_by'], ['users.id'], ),
    sa.ForeignKeyConstraint(['visit_id'], ['visits.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photos_uploaded_by'), ['uploaded_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_photos_visit_id'), ['visit_id'], unique=False)

    _complete_checked_out_visits()
    _insert_default_template()


def _complete_checked_out_visits() -> None:
    """Mark visits that have a check-out as completed and give them their duration in seconds."""
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        seconds = "CAST(ROUND(EXTRACT(EPOCH FROM (checked_out_at - checked_in_at))) AS INTEGER)"
    else:
        seconds = "CAST(ROUND((julianday(checked_out_at) - julianday(checked_in_at)) * 86400) AS INTEGER)"
    connection.execute(sa.text("UPDATE visits SET status = 'completed' WHERE checked_out_at IS NOT NULL"))
    connection.execute(sa.text(
        f"UPDATE visits SET duration_s = {seconds} "
        "WHERE checked_out_at IS NOT NULL AND checked_in_at IS NOT NULL AND checked_out_at >= checked_in_at"
    ))


def _insert_default_template() -> None:
    """Insert the default template and log it for every user (a change-log entry with no audience keys)."""
    connection = op.get_bind()
    seq = connection.execute(
        sa.text("UPDATE sync_counter SET value = value + 1 WHERE id = 1 RETURNING value")
    ).scalar_one()
    now = datetime.now(timezone.utc)
    templates = sa.table(
        "checklist_templates",
        sa.column("id", sa.Uuid()), sa.column("version", sa.BigInteger()), sa.column("deleted", sa.Boolean()),
        sa.column("field_versions", sa.JSON()), sa.column("server_updated_at", sa.DateTime(timezone=True)),
        sa.column("visit_type", sa.String()), sa.column("name", sa.String()), sa.column("revision", sa.Integer()),
        sa.column("items", sa.JSON()), sa.column("active", sa.Boolean()), sa.column("created_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(templates, [{
        "id": DEFAULT_TEMPLATE_ID, "version": seq, "deleted": False, "field_versions": {}, "server_updated_at": now,
        "visit_type": "routine", "name": "例行拜访检查单", "revision": 1, "items": DEFAULT_TEMPLATE_ITEMS,
        "active": True, "created_at": now,
    }])
    changes = sa.table(
        "sync_changes",
        sa.column("seq", sa.BigInteger()), sa.column("entity", sa.String()), sa.column("entity_id", sa.Uuid()),
        sa.column("op", sa.String()), sa.column("owner_id", sa.Uuid()), sa.column("region_id", sa.Uuid()),
        sa.column("store_id", sa.Uuid()), sa.column("changed_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(changes, [{
        "seq": seq, "entity": "checklist_templates", "entity_id": DEFAULT_TEMPLATE_ID, "op": "put",
        "owner_id": None, "region_id": None, "store_id": None, "changed_at": now,
    }])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM sync_changes WHERE entity IN ('checklist_templates', 'checklist_answers', 'checkin_flags')"))

    with op.batch_alter_table('photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photos_visit_id'))
        batch_op.drop_index(batch_op.f('ix_photos_uploaded_by'))

    op.drop_table('photos')
    with op.batch_alter_table('checklist_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_answers_visit_id'))
        batch_op.drop_index(batch_op.f('ix_checklist_answers_version'))
        batch_op.drop_index(batch_op.f('ix_checklist_answers_customer_id'))

    op.drop_table('checklist_answers')
    with op.batch_alter_table('checkin_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checkin_flags_version'))
        batch_op.drop_index(batch_op.f('ix_checkin_flags_rep_id'))
        batch_op.drop_index(batch_op.f('ix_checkin_flags_region_id'))
        batch_op.drop_index(batch_op.f('ix_checkin_flags_customer_id'))
        batch_op.drop_index(batch_op.f('ix_checkin_flags_created_at'))

    op.drop_table('checkin_flags')

    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_constraint('fk_visits_template_id_checklist_templates', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_visits_template_id'))
        batch_op.drop_index('ix_visits_rep_captured_at')
        batch_op.drop_column('geofence')
        batch_op.drop_column('template_id')
        batch_op.drop_column('status')
        batch_op.drop_column('duration_s')
        batch_op.drop_column('server_received_at')
        batch_op.drop_column('captured_at')
        batch_op.drop_column('checkin_mocked')
        batch_op.drop_column('checkin_fix_at')
        batch_op.drop_column('checkin_coord_system')
        batch_op.drop_column('checkin_accuracy_m')
        batch_op.drop_column('checkin_longitude')
        batch_op.drop_column('checkin_latitude')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('geofence_radius_m')

    with op.batch_alter_table('checklist_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_checklist_templates_visit_type'))
        batch_op.drop_index(batch_op.f('ix_checklist_templates_version'))

    op.drop_table('checklist_templates')

    for table in _ENTITY_NAME_TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('entity', existing_type=sqlmodel.sql.sqltypes.AutoString(length=32), type_=sa.String(length=16), existing_nullable=False)
