"""holds, offers and the waitlist

A hold is an appointment row with status ``held`` until ``hold_expires_at``: the no-overlap
rules (PostgreSQL exclusion constraints, SQLite triggers) now cover ``held`` as they cover
bookings, so a held time can never be booked by anyone else. ``offer`` groups up to three holds
offered to one patient (re-planning after an absence, or a waitlist request);
``waitlist_request`` is a patient asking for an earlier or different time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:40:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_STATUSES = "('booked', 'checked_in', 'completed', 'cancelled', 'no_show')"
NEW_STATUSES = "('booked', 'checked_in', 'completed', 'cancelled', 'no_show', 'held')"
OLD_BUSY = "('booked', 'checked_in', 'completed')"
NEW_BUSY = "('booked', 'checked_in', 'completed', 'held')"
# (constraint name suffix, resource column, start column, end column), as in 0001.
NO_OVERLAP = (
    ("practitioner", "practitioner_id", "busy_start", "busy_end"),
    ("room", "room_id", "busy_start", "busy_end"),
    ("patient", "patient_id", "start_at", "end_at"),
)


def _drop_no_overlap():
    if op.get_bind().dialect.name == "postgresql":
        for name, *_ in NO_OVERLAP:
            op.execute(f"ALTER TABLE appointment DROP CONSTRAINT IF EXISTS ex_appointment_{name}_overlap")
    else:
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS appointment_no_overlap_{event}")


def _add_no_overlap(busy: str):
    if op.get_bind().dialect.name == "postgresql":
        for name, column, start, end in NO_OVERLAP:
            op.execute(
                f"ALTER TABLE appointment ADD CONSTRAINT ex_appointment_{name}_overlap "
                f"EXCLUDE USING gist ({column} WITH =, tstzrange({start}, {end}, '[)') WITH &&) "
                f"WHERE (status IN {busy})"
            )
    else:
        for event, guard in (("INSERT", ""), ("UPDATE", " AND a.id <> NEW.id")):
            checks = "\n".join(
                f"  SELECT RAISE(ABORT, 'ex_appointment_{name}_overlap') WHERE EXISTS ("
                f"SELECT 1 FROM appointment a WHERE a.status IN {busy}"
                f" AND a.{column} = NEW.{column} AND a.{start} < NEW.{end}"
                f" AND a.{end} > NEW.{start}{guard});"
                for name, column, start, end in NO_OVERLAP
            )
            op.execute(
                f"CREATE TRIGGER appointment_no_overlap_{event.lower()} BEFORE {event} ON appointment "
                f"WHEN NEW.status IN {busy}\nBEGIN\n{checks}\nEND"
            )


def upgrade():
    op.create_table(
        'waitlist_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('treatment_id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('practitioner_ids', sa.JSON(), nullable=False),
        sa.Column('weekdays', sa.JSON(), nullable=False),
        sa.Column('from_time', sa.Time(), nullable=True),
        sa.Column('to_time', sa.Time(), nullable=True),
        sa.Column('latest', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('waiting', 'offered', 'booked', 'withdrawn', 'expired')",
                           name=op.f('ck_waitlist_request_status_known')),
        sa.ForeignKeyConstraint(['patient_id'], ['user.id'], name=op.f('fk_waitlist_request_patient_id_user'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['treatment_id'], ['treatment.id'],
                                name=op.f('fk_waitlist_request_treatment_id_treatment'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'],
                                name=op.f('fk_waitlist_request_appointment_id_appointment'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_waitlist_request_created_by_id_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_request')),
    )
    op.create_index(op.f('ix_waitlist_request_patient_id'), 'waitlist_request', ['patient_id'], unique=False)
    op.create_index(op.f('ix_waitlist_request_status'), 'waitlist_request', ['status'], unique=False)
    op.create_index(op.f('ix_waitlist_request_created_at'), 'waitlist_request', ['created_at'], unique=False)

    op.create_table(
        'offer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('treatment_id', sa.Integer(), nullable=False),
        sa.Column('appointment_id', sa.Integer(), nullable=True),
        sa.Column('request_id', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('unheld', sa.JSON(), nullable=False),
        sa.Column('link_hash', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('result_appointment_id', sa.Integer(), nullable=True),
        sa.CheckConstraint("kind IN ('waitlist', 'replan')", name=op.f('ck_offer_kind_known')),
        sa.CheckConstraint("status IN ('open', 'accepted', 'declined', 'expired', 'taken', 'withdrawn')",
                           name=op.f('ck_offer_status_known')),
        sa.ForeignKeyConstraint(['patient_id'], ['user.id'], name=op.f('fk_offer_patient_id_user'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['treatment_id'], ['treatment.id'], name=op.f('fk_offer_treatment_id_treatment'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['appointment_id'], ['appointment.id'], name=op.f('fk_offer_appointment_id_appointment'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['request_id'], ['waitlist_request.id'],
                                name=op.f('fk_offer_request_id_waitlist_request'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_offer_created_by_id_user'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['result_appointment_id'], ['appointment.id'],
                                name=op.f('fk_offer_result_appointment_id_appointment'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_offer')),
        sa.UniqueConstraint('link_hash', name=op.f('uq_offer_link_hash')),
    )
    op.create_index(op.f('ix_offer_patient_id'), 'offer', ['patient_id'], unique=False)
    op.create_index(op.f('ix_offer_status'), 'offer', ['status'], unique=False)
    op.create_index(op.f('ix_offer_expires_at'), 'offer', ['expires_at'], unique=False)

    _drop_no_overlap()  # SQLite rebuilds the table below, which would drop the triggers anyway
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hold_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('offer_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_appointment_hold_expires_at'), ['hold_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_appointment_offer_id'), ['offer_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_appointment_offer_id_offer'), 'offer', ['offer_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.drop_constraint(batch_op.f('ck_appointment_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_appointment_status_known'), f"status IN {NEW_STATUSES}")
        batch_op.create_check_constraint(batch_op.f('ck_appointment_held_until'),
                                         "(status = 'held') = (hold_expires_at IS NOT NULL)")
    _add_no_overlap(NEW_BUSY)


def downgrade():
    op.execute("DELETE FROM appointment WHERE status = 'held'")
    _drop_no_overlap()
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_appointment_held_until'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_appointment_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_appointment_status_known'), f"status IN {OLD_STATUSES}")
        batch_op.drop_constraint(batch_op.f('fk_appointment_offer_id_offer'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_appointment_offer_id'))
        batch_op.drop_index(batch_op.f('ix_appointment_hold_expires_at'))
        batch_op.drop_column('offer_id')
        batch_op.drop_column('hold_expires_at')
    _add_no_overlap(OLD_BUSY)
    op.drop_index(op.f('ix_offer_expires_at'), table_name='offer')
    op.drop_index(op.f('ix_offer_status'), table_name='offer')
    op.drop_index(op.f('ix_offer_patient_id'), table_name='offer')
    op.drop_table('offer')
    op.drop_index(op.f('ix_waitlist_request_created_at'), table_name='waitlist_request')
    op.drop_index(op.f('ix_waitlist_request_status'), table_name='waitlist_request')
    op.drop_index(op.f('ix_waitlist_request_patient_id'), table_name='waitlist_request')
    op.drop_table('waitlist_request')
