"""translated texts: what the clinic writes, in more than one language (issue 16)

``translations`` on treatment, prep_rule, aftercare_rule and clinic_settings holds the texts in
languages other than the clinic's default ({"it": {"name": "...", "description": "..."}}); the
plain columns keep the default language's text. The clinic's own words for patients: a welcome
on the home page and a note shown after booking (both optional).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 04:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

TABLES = ('treatment', 'prep_rule', 'aftercare_rule', 'clinic_settings')


def upgrade():
    # Plain ADD COLUMN (no batch): SQLite adds a column in place, without copying the table.
    for table in TABLES:
        op.add_column(table, sa.Column('translations', sa.JSON(), nullable=False, server_default='{}'))
    op.add_column('clinic_settings', sa.Column('welcome_text', sa.Text(), nullable=False, server_default=''))
    op.add_column('clinic_settings', sa.Column('booking_note', sa.Text(), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.drop_column('booking_note')
        batch_op.drop_column('welcome_text')
        batch_op.drop_column('translations')
    for table in TABLES[:-1]:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('translations')
