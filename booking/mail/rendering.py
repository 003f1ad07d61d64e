"""The text and HTML bodies of e-mails, from ``templates/mail`` with a plain Jinja environment.

No Flask app is needed: a renderer is built from the templates folder and the site's address
(``BASE_URL``, where links in mails point). ``create_app`` installs the one its configuration
describes; callers may pass a renderer of their own instead (tests, a worker without an app).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from booking import protocol_text

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def manage_url(base_url: str) -> str:
    """Where a patient manages their bookings, on the site at ``base_url``."""
    return base_url.rstrip("/") + "/me"


class MailRenderer:
    """Renders ``mail/<name>.txt`` and ``mail/<name>.html``; knows where links point."""

    def __init__(self, base_url: str, templates: Path = TEMPLATES) -> None:
        """A renderer over ``templates`` for the site at ``base_url``."""
        self.base_url = base_url.rstrip("/")
        # Escaping as Flask does it: HTML templates escaped, text templates as written.
        self.environment = Environment(
            loader=FileSystemLoader(templates),
            autoescape=select_autoescape(["html", "htm", "xml", "xhtml", "svg"], default=False),
        )
        self.environment.globals.update(describe_lead=protocol_text.lead_time)

    @property
    def manage_url(self) -> str:
        """Where a patient manages their bookings."""
        return manage_url(self.base_url)

    def render(self, name: str, **context) -> tuple[str, str]:
        """A message's text and HTML bodies from ``templates/mail/<name>.txt|.html``."""
        return (
            self.environment.get_template(f"mail/{name}.txt").render(**context),
            self.environment.get_template(f"mail/{name}.html").render(**context),
        )


_installed: MailRenderer | None = None


def install(renderer: MailRenderer) -> None:
    """Make ``renderer`` the one mail is written with when no other is passed (``create_app``
    installs the one of its configuration)."""
    global _installed
    _installed = renderer


def installed() -> MailRenderer:
    """The installed renderer."""
    if _installed is None:
        raise RuntimeError("No mail renderer is installed: create the app first, or pass mail=MailRenderer(...).")
    return _installed
