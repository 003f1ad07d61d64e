"""the course of treatment: prep confirmation, aftercare steps, recall to maintenance, prepaid
courses and per-clinic message switches

- ``protocol.prep_confirm_hours`` / ``prep_answer_by_hours``: when a session's prep is asked
  about, and when an unanswered one goes to reception's call list;
- ``aftercare_rule``: what the patient avoids after a session, and for how long;
- ``prep_check``: one per appointment, the answer and the hashed single-use link;
- ``recall``: a completed series due for maintenance, and the state of its recall;
- ``series.course_sessions`` / ``course_expires_on``: a prepaid course of N sessions;
- ``clinic_settings.messages_off``: message kinds the clinic has turned off.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:30:00

"""
import sqlalchemy as sa
from alembic import op



# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prep_confirm_hours', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('prep_answer_by_hours', sa.Integer(), nullable=False, server_default='24'))
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.alter_column('prep_answer_by_hours', server_default=None)
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('course_sessions', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('course_expires_on', sa.Date(), nullable=True))
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('messages_off', sa.JSON(), nullable=False, server_default='[]'))
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.alter_column('messages_off', server_default=None)

    op.create_table(
        'aftercare_rule',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('protocol_id', sa.Integer(), nullable=False),
        sa.Column('instruction', sa.String(length=200), nullable=False),
        sa.Column('hours', sa.Integer(), nullable=False),
        sa.CheckConstraint('hours > 0', name=op.f('ck_aftercare_rule_hours_positive')),
        sa.ForeignKeyConstraint(['protocol_id'], ['protocol.id'], name=op.f('fk_aftercare_rule_protocol_id_protocol'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_aftercare_rule')),
    )
    op.create_index(op.f('ix_aftercare_rule_protocol_id'), 'aftercare_rule', ['protocol_id'], unique=False)

    op.create_table(
        'prep_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=False),
        sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('answers', sa.JSON(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('link_hash', sa.String(length=64), nullable=True),
        sa.Column('link_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'prepared', 'needs_attention', 'callback')",
                           name=op.f('ck_prep_check_status_known')),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'],
                                name=op.f('fk_prep_check_appointment_id_appointment'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prep_check')),
        sa.UniqueConstraint('appointment_id', name=op.f('uq_prep_check_appointment_id')),
        sa.UniqueConstraint('link_hash', name=op.f('uq_prep_check_link_hash')),
    )

    op.create_table(
        'recall',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('series_id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('treatment_id', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('invited_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('due', 'invited', 'reminded', 'booked', 'declined')",
                           name=op.f('ck_recall_status_known')),
        sa.ForeignKeyConstraint(['series_id'], ['series.id'], name=op.f('fk_recall_series_id_series'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['patient_id'], ['user.id'], name=op.f('fk_recall_patient_id_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['treatment_id'], ['treatment.id'], name=op.f('fk_recall_treatment_id_treatment'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'],
                                name=op.f('fk_recall_appointment_id_appointment'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recall')),
        sa.UniqueConstraint('series_id', name=op.f('uq_recall_series_id')),
    )
    op.create_index(op.f('ix_recall_patient_id'), 'recall', ['patient_id'], unique=False)
    op.create_index(op.f('ix_recall_due_on'), 'recall', ['due_on'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_recall_due_on'), table_name='recall')
    op.drop_index(op.f('ix_recall_patient_id'), table_name='recall')
    op.drop_table('recall')
    op.drop_table('prep_check')
    op.drop_index(op.f('ix_aftercare_rule_protocol_id'), table_name='aftercare_rule')
    op.drop_table('aftercare_rule')
    with op.batch_alter_table('clinic_settings', schema=None) as batch_op:
        batch_op.drop_column('messages_off')
    with op.batch_alter_table('series', schema=None) as batch_op:
        batch_op.drop_column('course_expires_on')
        batch_op.drop_column('course_sessions')
    with op.batch_alter_table('protocol', schema=None) as batch_op:
        batch_op.drop_column('prep_answer_by_hours')
        batch_op.drop_column('prep_confirm_hours')
