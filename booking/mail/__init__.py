"""Outgoing mail: the outbox, message building and the SMTP sender."""
