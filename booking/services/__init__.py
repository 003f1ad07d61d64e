"""Use cases: each takes ids and values, runs in one transaction, audits, and queues mail."""
