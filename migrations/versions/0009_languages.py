"""languages: a user's chosen language and the clinic's default one (issue 16)

``user.locale`` is NULL when the user chose none (the clinic's default applies);
``clinic_settings.default_locale`` is the language of pages and mail when nobody chose one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch): SQLite adds a column in place, without copying the table.
    op.add_column('user', sa.Column('locale', sa.String(length=5), nullable=True))
    op.add_column('clinic_settings', sa.Column('default_locale', sa.String(length=5), nullable=False,
                                               server_default='en'))


def downgrade():
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.drop_column('default_locale')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('locale')
