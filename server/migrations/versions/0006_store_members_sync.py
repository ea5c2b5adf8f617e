"""store members on the tablets: synced members, purchases, member follow-ups, profile-view audit

Makes members a synced table (version, tombstone, field versions) and logs the existing
members for their store. Adds member_purchases (read-only on devices), member_followups and
profile_views (written by the tablets), and the structured fields of a one-line follow-up
(input method, baby age, life stage, products, intent, timing, chosen talk track) to
customer follow-ups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 23:43:23
"""
from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('member_followups',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('input_method', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('baby_age_months', sa.Integer(), nullable=True),
    sa.Column('life_stage', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('product_ids', sa.JSON(), nullable=False),
    sa.Column('intent', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('followup_in_days', sa.Integer(), nullable=True),
    sa.Column('talk_track_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('author_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('member_followups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_member_followups_author_id'), ['author_id'], unique=False)
        batch_op.create_index('ix_member_followups_member_captured_at', ['member_id', 'captured_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_followups_store_id'), ['store_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_followups_version'), ['version'], unique=False)

    op.create_table('member_purchases',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('purchased_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('product_name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('member_purchases', schema=None) as batch_op:
        batch_op.create_index('ix_member_purchases_member_purchased_at', ['member_id', 'purchased_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_purchases_store_id'), ['store_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_member_purchases_version'), ['version'], unique=False)

    op.create_table('profile_views',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('viewer_id', sa.Uuid(), nullable=False),
    sa.Column('store_id', sa.Uuid(), nullable=False),
    sa.Column('viewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ),
    sa.ForeignKeyConstraint(['viewer_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('profile_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_profile_views_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_profile_views_store_viewed_at', ['store_id', 'viewed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_profile_views_version'), ['version'], unique=False)
        batch_op.create_index(batch_op.f('ix_profile_views_viewer_id'), ['viewer_id'], unique=False)

    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('input_method', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False, server_default='typed'))
        batch_op.add_column(sa.Column('baby_age_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('life_stage', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('product_ids', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('intent', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
        batch_op.add_column(sa.Column('followup_in_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('talk_track_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))

    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('deleted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('field_versions', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_members_version'), ['version'], unique=False)

    _log_existing_members()


def _log_existing_members() -> None:
    """Give every existing member a version and a change-log entry for its store, so tablets download it.

    The change numbers come from the counter row, like every other write (see server.sync.changes).
    """
    connection = op.get_bind()
    query = sa.text("SELECT id, store_id FROM members ORDER BY id").columns(sa.column("id", sa.Uuid()), sa.column("store_id", sa.Uuid()))
    members = connection.execute(query).all()
    if not members:
        return
    last = connection.execute(sa.text("SELECT value FROM sync_counter WHERE id = 1")).scalar_one()
    connection.execute(sa.text("UPDATE sync_counter SET value = :value WHERE id = 1"), {"value": last + len(members)})
    now = datetime.now(timezone.utc)
    changes = sa.table(
        'sync_changes', sa.column('seq', sa.BigInteger()), sa.column('entity', sa.String()), sa.column('entity_id', sa.Uuid()),
        sa.column('op', sa.String()), sa.column('store_id', sa.Uuid()), sa.column('changed_at', sa.DateTime(timezone=True)),
    )
    entries = [
        {"seq": last + number, "entity": "members", "entity_id": member_id, "op": "put", "store_id": store_id, "changed_at": now}
        for number, (member_id, store_id) in enumerate(members, start=1)
    ]
    op.bulk_insert(changes, entries)
    members_table = sa.table('members', sa.column('id', sa.Uuid()), sa.column('version', sa.BigInteger()))
    connection.execute(
        members_table.update().where(members_table.c.id == sa.bindparam('member_id')).values(version=sa.bindparam('seq')),
        [{"member_id": entry["entity_id"], "seq": entry["seq"]} for entry in entries],
    )


def downgrade() -> None:
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_version'))
        batch_op.drop_column('server_updated_at')
        batch_op.drop_column('field_versions')
        batch_op.drop_column('deleted')
        batch_op.drop_column('version')

    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_column('talk_track_id')
        batch_op.drop_column('followup_in_days')
        batch_op.drop_column('intent')
        batch_op.drop_column('product_ids')
        batch_op.drop_column('life_stage')
        batch_op.drop_column('baby_age_months')
        batch_op.drop_column('input_method')

    with op.batch_alter_table('profile_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_profile_views_viewer_id'))
        batch_op.drop_index(batch_op.f('ix_profile_views_version'))
        batch_op.drop_index('ix_profile_views_store_viewed_at')
        batch_op.drop_index(batch_op.f('ix_profile_views_member_id'))

    op.drop_table('profile_views')
    with op.batch_alter_table('member_purchases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_purchases_version'))
        batch_op.drop_index(batch_op.f('ix_member_purchases_store_id'))
        batch_op.drop_index('ix_member_purchases_member_purchased_at')

    op.drop_table('member_purchases')
    with op.batch_alter_table('member_followups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_member_followups_version'))
        batch_op.drop_index(batch_op.f('ix_member_followups_store_id'))
        batch_op.drop_index('ix_member_followups_member_captured_at')
        batch_op.drop_index(batch_op.f('ix_member_followups_author_id'))

    op.drop_table('member_followups')
