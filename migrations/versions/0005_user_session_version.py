"""a session version per user, so sign-out and a new password end sessions on the server

The session and the remember cookie carry ``<user id>:<session_version>``; the user loader
accepts them only while the number matches the row. Signing out or setting a password raises
it, so a copied session cookie, an old remember cookie or one on another device stops working.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 22:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='1'))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('session_version', server_default=None)


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_version')
