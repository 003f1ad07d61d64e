"""the clinic's country and region (public holidays), currency and treatment prices, and
patients without an e-mail address

``clinic_settings.country`` and ``region`` say which public holidays the ``holidays`` package
offers as closures. ``user.email`` may be NULL for a patient reception added by phone only:
they get no mail until an address is added.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('country', sa.String(length=2), nullable=False, server_default='IT'))
        batch_op.add_column(sa.Column('region', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=False, server_default='EUR'))
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.alter_column('country', server_default=None)
        batch_op.alter_column('region', server_default=None)
        batch_op.alter_column('currency', server_default=None)
    with op.batch_alter_table('treatment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_cents', sa.Integer(), nullable=True))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('email', existing_type=sa.String(length=254), nullable=True)


def downgrade():
    op.execute("""UPDATE "user" SET email = 'no-email-' || id || '@phone.invalid' WHERE email IS NULL""")
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('email', existing_type=sa.String(length=254), nullable=False)
    with op.batch_alter_table('treatment', schema=None) as batch_op:
        batch_op.drop_column('price_cents')
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.drop_column('currency')
        batch_op.drop_column('region')
        batch_op.drop_column('country')
