"""The web entry points: one blueprint package per audience."""
