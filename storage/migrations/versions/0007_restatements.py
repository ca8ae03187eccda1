"""restatements: the dates given for a commitment after it was made

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

import storage.models

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('restatements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commitment_id', sa.String(length=200), nullable=False),
    sa.Column('document_key', sa.Text(), nullable=False),
    sa.Column('finding_hash', sa.String(length=64), nullable=False),
    sa.Column('development_id', sa.Integer(), nullable=True),
    sa.Column('change_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=200), nullable=False),
    sa.Column('said_on', sa.Date(), nullable=False),
    sa.Column('said_by', sa.Text(), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('sentence', sa.Text(), nullable=False),
    sa.Column('words', sa.Text(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('resolves_to', sa.Date(), nullable=True),
    sa.Column('recorded_at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['change_id'], ['changes.id'], name=op.f('fk_restatements_change_id_changes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['development_id'], ['developments.id'], name=op.f('fk_restatements_development_id_developments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_restatements_source_id_sources'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_restatements'))
    )
    with op.batch_alter_table('restatements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_restatements_change_id'), ['change_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_restatements_development_id'), ['development_id'], unique=False)
    op.create_index('uq_restatements_commitment_id', 'restatements', ['commitment_id', 'document_key', 'finding_hash'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('uq_restatements_commitment_id', table_name='restatements')
    with op.batch_alter_table('restatements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_restatements_development_id'))
        batch_op.drop_index(batch_op.f('ix_restatements_change_id'))
    op.drop_table('restatements')
