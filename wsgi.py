"""WSGI entry point: ``gunicorn wsgi:app`` (set BOOKING_CONFIG=production in production)."""

import gc

from booking import create_app

app = create_app()
# Everything made while starting up (the app, SQLAlchemy's mappers, pydantic's schemas) lives as
# long as the process: move it out of the garbage collector's reach, so the full collections
# that large answers (a 10,000-event feed) trigger do not walk it again each time.
gc.freeze()
