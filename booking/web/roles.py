"""Who may call each route: the roles table, stated once.

Every endpoint of the app is listed here with the roles that may call it (``anonymous`` is a
visitor who is not signed in). The views enforce it with ``roles_required`` (web pages),
``actor_required`` (the JSON API) and the use cases (which rows of a kind a role may touch);
``tests/integration/test_security_roles.py`` walks ``app.url_map`` and checks that every rule,
every method, answers each role as this table says, so a new route without a line here, or a
view whose decorator disagrees with it, fails the suite.

Object-level rules (which rows within an allowed route) live in the use cases and answer 404
for rows that are not the caller's:
- patients see and change only their own appointments, questionnaire, data and feeds;
- practitioners read the clinic calendar, the day sheet and any appointment panel (read-only:
  they work the same floor), and read and clear the questionnaire only of patients who have or
  had an appointment with them (``services.clearances``);
- calendar feeds (``services.feed_links``): patients make their own patient feed; practitioners
  only their own diary (scope ``practitioner``, their own id); receptionists and admins any
  scope. A feed is revoked by its maker, an admin, or the patient it is about; it stops
  answering once its maker could no longer make it (deactivated, erased, role changed).
"""

from __future__ import annotations

ANONYMOUS = "anonymous"
PUBLIC = frozenset({ANONYMOUS, "patient", "practitioner", "receptionist", "admin"})
SIGNED_IN = frozenset({"patient", "practitioner", "receptionist", "admin"})
PATIENT = frozenset({"patient"})
STAFF = frozenset({"practitioner", "receptionist", "admin"})
FRONT_DESK = frozenset({"receptionist", "admin"})
CLINICAL = frozenset({"practitioner", "admin"})
ADMIN = frozenset({"admin"})
BOOKERS = frozenset({"patient", "receptionist", "admin"})  # practitioners read, they do not book

# endpoint -> roles, or endpoint -> {method: roles} where methods differ.
TABLE: dict[str, frozenset[str] | dict[str, frozenset[str]]] = {
    # Public pages, sign-in, the public booking wizard (signing in happens inside it).
    "static": PUBLIC,
    "public.home": PUBLIC,
    "public.healthz": PUBLIC,
    "public.language": PUBLIC,  # issue 16: the language switcher
    "auth.login": PUBLIC,
    "auth.register": PUBLIC,
    "auth.reset_request": PUBLIC,
    "auth.reset": PUBLIC,
    "auth.logout": PUBLIC,  # signed out already: it just goes home
    "book.choose": PUBLIC,
    "book.pick": PUBLIC,
    "book.series": PUBLIC,
    "book.change": PUBLIC,
    "book.review": PUBLIC,
    "book.replace": PUBLIC,
    "book.done": SIGNED_IN,  # object-level: only the caller's own booking
    "book.callback": SIGNED_IN,
    # A feed's secret is its key: no sign-in (services.feeds decides whether it still answers).
    "feeds.feed": PUBLIC,
    # The course after booking (issue 14): a prep link is its own key (single use, expiring).
    "course.prep_link": PUBLIC,
    "course.prep": PATIENT,
    "course.my_course": PATIENT,
    "course.maintenance": PATIENT,
    "course.calls": FRONT_DESK,
    "course.recall_list": FRONT_DESK,
    "course.recall_book": FRONT_DESK,
    "course.patient_course": FRONT_DESK,
    # Patient portal.
    "portal.me": PATIENT,
    "portal.reschedule": PATIENT,
    "portal.cancel": PATIENT,
    "portal.intake": PATIENT,
    "portal.my_data": PATIENT,
    "portal.delete_account": PATIENT,
    "portal.appointment_ics": SIGNED_IN,
    "portal.calendar_feeds": SIGNED_IN,
    "portal.revoke_feed": SIGNED_IN,
    "portal.series_ics": PATIENT,  # object-level: only the caller's own series
    "portal.rebook": PATIENT,  # object-level: only the caller's own cancelled session
    # Reception: practitioners read, the front desk changes.
    "reception.calendar": STAFF,
    "reception.api_resources": STAFF,
    "reception.api_events": STAFF,
    "reception.api_background": STAFF,
    "reception.appointment": STAFF,
    "reception.day_sheet": STAFF,
    "reception.my_schedule": STAFF,
    "reception.api_move": FRONT_DESK,
    "reception.move": FRONT_DESK,
    "reception.set_status": FRONT_DESK,
    "reception.cancel": FRONT_DESK,
    "reception.resend": FRONT_DESK,
    "reception.book": FRONT_DESK,
    "reception.replan": FRONT_DESK,
    "reception.replan_apply": FRONT_DESK,
    "reception.replan_offer": FRONT_DESK,
    "reception.new_patient": FRONT_DESK,
    # Health answers: practitioners (their own patients) and admins, never the front desk; the
    # clearance itself (a valid POST) is a clinical decision the use case leaves to practitioners.
    "reception.patient_health": CLINICAL,
    # The development mailbox (it does not exist outside development and testing).
    "staff.mailbox": ADMIN,
    "staff.mail_message": ADMIN,
    # Administration.
    "admin.index": ADMIN,
    "admin.erase": ADMIN,
    "admin.feeds": ADMIN,
    "admin.revoke_feed": ADMIN,
    "admin.audit": FRONT_DESK,
    "admin.outbox": FRONT_DESK,
    "admin.retry": FRONT_DESK,
    "admin.practitioners": ADMIN,
    "admin.practitioner": ADMIN,
    "admin.practitioner_profile": ADMIN,
    "admin.practitioner_hours": ADMIN,
    "admin.practitioner_exception": ADMIN,
    "admin.practitioner_time_off": ADMIN,
    "admin.delete_entry": ADMIN,
    "admin.closures": ADMIN,
    "admin.add_holidays": ADMIN,  # public holidays as closures (services.holidays)
    "admin.rooms": ADMIN,
    "admin.room": ADMIN,
    "admin.room_closure": ADMIN,
    "admin.treatments": ADMIN,
    "admin.treatment": ADMIN,
    "admin.new_treatment": ADMIN,
    "admin.add_prep": ADMIN,
    "admin.delete_prep": ADMIN,
    "admin.add_aftercare": ADMIN,
    "admin.delete_aftercare": ADMIN,
    "admin.settings": ADMIN,
    "admin.clinic_texts": ADMIN,
    "admin.users": ADMIN,
    "admin.user": ADMIN,
    "admin.new_user": ADMIN,
    # JSON API: the catalogue, availability and the contract's documents are public.
    "openapi.openapi": PUBLIC,
    "openapi.doc_url": PUBLIC,
    "openapi.static": PUBLIC,
    "api.create_token": PUBLIC,
    "api.revoke_token": SIGNED_IN,
    "api.list_treatments": PUBLIC,
    "api.list_practitioners": PUBLIC,
    "api.get_availability": PUBLIC,
    "api.create_feed": SIGNED_IN,
    "api.revoke_feed": SIGNED_IN,
    "api.plan_series": SIGNED_IN,
    "api.create_appointment": BOOKERS,
    "api.create_series": BOOKERS,
    "api.list_appointments": SIGNED_IN,
    "api.get_appointment": SIGNED_IN,
    "api.reschedule_appointment": BOOKERS,
    "api.cancel_appointment": BOOKERS,
    "api.get_invite": SIGNED_IN,
    "api.get_intake": PATIENT,
    "api.put_intake": PATIENT,
    "api.get_prep": SIGNED_IN,
    "api.put_prep": BOOKERS,
    "api.create_hold": BOOKERS,
    "api.book_hold": BOOKERS,
    "api.release_hold": BOOKERS,
    "api.list_offers": BOOKERS,
    "api.accept_offer": BOOKERS,
    "api.decline_offer": BOOKERS,
    "api.create_waitlist_request": BOOKERS,
    "api.list_waitlist": BOOKERS,
    "api.withdraw_waitlist_request": BOOKERS,
    "portal.waitlist_new": PATIENT,
    "portal.waitlist_withdraw": PATIENT,  # object-level: only the caller's own request
    "reception.waitlist_list": FRONT_DESK,
    "reception.waitlist_withdraw": FRONT_DESK,
    "offers.answer": PUBLIC,  # the link is the offer's key, for this offer only
}


def allowed(endpoint: str, method: str) -> frozenset[str] | None:
    """The roles that may call ``endpoint`` with ``method``; None when the table says nothing."""
    entry = TABLE.get(endpoint)
    if isinstance(entry, dict):
        return entry.get(method.upper())
    return entry
