"""WSGI entry point: ``gunicorn wsgi:app`` (set BOOKING_CONFIG=production in production)."""

from booking import create_app

app = create_app()
