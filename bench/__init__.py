"""Benchmarks of the booking app against the targets of docs/PERFORMANCE.md (run ``make bench``).

Every script prints its figures; ``python -m bench.run`` runs them all, prints the table with
each target and whether it is met, and writes docs/PERFORMANCE.md with a plot.
"""
