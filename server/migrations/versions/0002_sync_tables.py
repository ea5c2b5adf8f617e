"""sync tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 21:13:34.870271
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('sync_changes',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('op', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=True),
    sa.Column('region_id', sa.Uuid(), nullable=True),
    sa.Column('store_id', sa.Uuid(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('sync_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_changes_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index('ix_sync_changes_owner_seq', ['owner_id', 'seq'], unique=False)
        batch_op.create_index('ix_sync_changes_region_seq', ['region_id', 'seq'], unique=False)
        batch_op.create_index('ix_sync_changes_store_seq', ['store_id', 'seq'], unique=False)

    op.create_table('sync_conflicts',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('entity_id', sa.Uuid(), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('lost_value', sa.JSON(), nullable=False),
    sa.Column('won_value', sa.JSON(), nullable=False),
    sa.Column('lost_by', sa.Uuid(), nullable=True),
    sa.Column('won_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_conflicts_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_conflicts_version'), ['version'], unique=False)

    op.create_table('sync_counter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('tombstone_floor', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('sync_clients',
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('last_mutation_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('client_id')
    )
    with op.batch_alter_table('sync_clients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_clients_user_id'), ['user_id'], unique=False)

    op.create_table('sync_rejections',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('mutation_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('op', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_rejections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_rejections_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_rejections_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_rejections_version'), ['version'], unique=False)

    op.create_table('followups',
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('field_versions', sa.JSON(), nullable=False),
    sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Uuid(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_followups_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followups_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_followups_version'), ['version'], unique=False)

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('deleted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('field_versions', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_contacts_version'), ['version'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('deleted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('field_versions', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_customers_version'), ['version'], unique=False)

    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('deleted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('field_versions', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('server_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_visits_version'), ['version'], unique=False)

    _backfill_change_log()


# Existing rows enter the change log in this order, each table numbered after the
# previous one; child rows take the owner and region of their customer.
_BACKFILL = (
    ("customers", "SELECT c.id, c.owner_id, c.region_id FROM customers c"),
    ("contacts", "SELECT x.id, c.owner_id, c.region_id FROM contacts x JOIN customers c ON c.id = x.customer_id"),
    ("visits", "SELECT x.id, c.owner_id, c.region_id FROM visits x JOIN customers c ON c.id = x.customer_id"),
)


def _backfill_change_log() -> None:
    """Give every existing synced row a version and a change-log entry, so a first pull downloads it."""
    connection = op.get_bind()
    next_seq = 1
    for entity, rows_sql in _BACKFILL:
        order_by = "c.id" if entity == "customers" else "x.id"
        query = sa.text(f"{rows_sql} ORDER BY {order_by}").columns(
            sa.column("id", sa.Uuid()), sa.column("owner_id", sa.Uuid()), sa.column("region_id", sa.Uuid())
        )
        rows = connection.execute(query).all()
        entries = [
            {"seq": next_seq + index, "entity": entity, "entity_id": row[0], "op": "put", "owner_id": row[1], "region_id": row[2]}
            for index, row in enumerate(rows)
        ]
        if entries:
            connection.execute(
                sa.text(
                    "INSERT INTO sync_changes (seq, entity, entity_id, op, owner_id, region_id, store_id, changed_at) "
                    "VALUES (:seq, :entity, :entity_id, :op, :owner_id, :region_id, NULL, CURRENT_TIMESTAMP)"
                ).bindparams(sa.bindparam("entity_id", type_=sa.Uuid()), sa.bindparam("owner_id", type_=sa.Uuid()), sa.bindparam("region_id", type_=sa.Uuid())),
                entries,
            )
            connection.execute(
                sa.text(f"UPDATE {entity} SET version = (SELECT s.seq FROM sync_changes s WHERE s.entity_id = {entity}.id)")
            )
        next_seq += len(entries)
    connection.execute(
        sa.text("INSERT INTO sync_counter (id, value, tombstone_floor) VALUES (1, :value, 0)"), {"value": next_seq - 1}
    )


def downgrade() -> None:
    with op.batch_alter_table('visits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visits_version'))
        batch_op.drop_column('server_updated_at')
        batch_op.drop_column('field_versions')
        batch_op.drop_column('deleted')
        batch_op.drop_column('version')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_version'))
        batch_op.drop_column('server_updated_at')
        batch_op.drop_column('field_versions')
        batch_op.drop_column('deleted')
        batch_op.drop_column('version')

    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_version'))
        batch_op.drop_column('server_updated_at')
        batch_op.drop_column('field_versions')
        batch_op.drop_column('deleted')
        batch_op.drop_column('version')

    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_followups_version'))
        batch_op.drop_index(batch_op.f('ix_followups_customer_id'))
        batch_op.drop_index(batch_op.f('ix_followups_author_id'))

    op.drop_table('followups')
    with op.batch_alter_table('sync_rejections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_rejections_version'))
        batch_op.drop_index(batch_op.f('ix_sync_rejections_user_id'))
        batch_op.drop_index(batch_op.f('ix_sync_rejections_client_id'))

    op.drop_table('sync_rejections')
    with op.batch_alter_table('sync_clients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_clients_user_id'))

    op.drop_table('sync_clients')
    op.drop_table('sync_counter')
    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_conflicts_version'))
        batch_op.drop_index(batch_op.f('ix_sync_conflicts_entity_id'))

    op.drop_table('sync_conflicts')
    with op.batch_alter_table('sync_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_changes_store_seq')
        batch_op.drop_index('ix_sync_changes_region_seq')
        batch_op.drop_index('ix_sync_changes_owner_seq')
        batch_op.drop_index(batch_op.f('ix_sync_changes_entity_id'))

    op.drop_table('sync_changes')
