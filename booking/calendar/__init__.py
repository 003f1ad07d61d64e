"""iCalendar documents: invites (REQUEST/CANCEL) and subscription feeds, built with ``icalendar``."""
