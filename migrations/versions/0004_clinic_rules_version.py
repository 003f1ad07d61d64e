"""a version stamp for the clinic's scheduling rules

Each app process keeps the rule context it last loaded (practitioners' hours, breaks,
exceptions and time off, rooms and their closures, treatments and protocols, clinic closures)
and reuses it while ``clinic_settings.rules_version`` is unchanged. Every write to one of those
tables sets a new random stamp in the same transaction (``booking/services/rule_cache.py``), so a
process sees the new stamp exactly when it can see the new rules.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 13:20:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rules_version', sa.String(length=32), nullable=False,
                                      server_default='0004-initial'))
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.alter_column('rules_version', server_default=None)


def downgrade():
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.drop_column('rules_version')
