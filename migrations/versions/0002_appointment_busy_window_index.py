"""index the held span for window queries

``booked_between`` asks for the active appointments whose held span touches a window
(``busy_start < hi AND busy_end > lo``). The per-practitioner and per-room indexes start with
the resource, so without this index the query read the whole table: availability then grew
with the history, not with the appointments inside the asked window. With it the range scan
starts at the window (``busy_end > lo``) and checks ``busy_start`` inside the index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 11:25:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.create_index('ix_appointment_busy_window', ['busy_end', 'busy_start'], unique=False)


def downgrade():
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_index('ix_appointment_busy_window')
