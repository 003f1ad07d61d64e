"""Settings for each way the app runs: development, testing and production.

Values come from the environment so the same code runs everywhere; see README's
configuration table.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("BOOKING_INSTANCE_DIR", BASE_DIR / "instance"))


def _sqlite_url(name: str) -> str:
    """An SQLite URL for a file under ``instance/``."""
    return f"sqlite:///{INSTANCE_DIR / name}"


def _env_int(name: str, default: int) -> int:
    """An integer from the environment, or ``default``."""
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


# Keys that were published (this project's old development key, the test key, common
# placeholders): a session signed with one of them can be forged by anyone.
KNOWN_SECRET_KEYS = frozenset({
    "dev-only-not-secret", "testing", "secret", "secret-key", "changeme", "change-me", "dev", "development",
    "your-secret-key", "your-secret-key-here", "replace-me-with-a-long-random-string",
})
MIN_SECRET_KEY_BYTES = 32


def check_secret_key(key: str) -> None:
    """Raise unless ``key`` is long enough and not a published one (production)."""
    if key.strip().lower() in KNOWN_SECRET_KEYS:
        raise RuntimeError("SECRET_KEY is a known, published value; anyone could forge sessions with it. "
                           'Set a long random one: python -c "import secrets; print(secrets.token_urlsafe(48))"')
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise RuntimeError(f"SECRET_KEY is {len(key.encode())} bytes; use at least {MIN_SECRET_KEY_BYTES}, random: "
                           'python -c "import secrets; print(secrets.token_urlsafe(48))"')


def instance_secret_key(instance_dir: Path) -> str:
    """The development key kept in ``instance/secret_key``: made at random on the first start
    (readable by the owner only), then reused so sessions survive a restart."""
    path = Path(instance_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process (make run's timers) may be writing it right now
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it and start again to make a new key") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key


def normalise_database_url(url: str) -> str:
    """Let ``postgres://``/``postgresql://`` URLs use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Defaults shared by every environment."""

    # Unset: development makes one in instance/ (create_app); production refuses to start.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL", _sqlite_url("booking.sqlite3"))
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Where links in mails and feeds point; set it behind a proxy.
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Reuse a recent availability answer while nothing it depends on changed (services/availability.py);
    # AVAILABILITY_MEMO=0 computes every answer (the benchmarks measure both).
    AVAILABILITY_MEMO = os.environ.get("AVAILABILITY_MEMO", "1") != "0"
    # Failed sign-ins (web and POST /api/v1/tokens together; successes are not counted) per client
    # address and per account (e-mail), counted in RATELIMIT_STORAGE_URI.
    RATELIMIT_LOGIN = os.environ.get("RATELIMIT_LOGIN", "10 per minute;100 per hour")
    RATELIMIT_LOGIN_ACCOUNT = os.environ.get("RATELIMIT_LOGIN_ACCOUNT", "5 per minute;30 per hour")
    RATELIMIT_HEADERS_ENABLED = True
    API_TOKEN_HOURS = _env_int("API_TOKEN_HOURS", 24 * 30)
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = _env_int("SMTP_PORT", 587)
    SMTP_USERNAME = os.environ.get("SMTP_USERNAME", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_SECURITY = os.environ.get("SMTP_SECURITY", "starttls")  # starttls | ssl | none
    MAIL_FROM = os.environ.get("MAIL_FROM", "bookings@clinic.example")
    MAIL_DIR = os.environ.get("MAIL_DIR", str(INSTANCE_DIR / "mail"))
    # The waitlist (issue 15): "one" offers a freed time to one request at a time, held for it;
    # "several" tells several waiting patients at once and the first to accept books it.
    WAITLIST_MODE = os.environ.get("WAITLIST_MODE", "one")
    OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)
    # Development only (booking/devmail.py): the serving process delivers the outbox and queues due
    # reminders in a background thread, and takes BASE_URL from the first request when it was not
    # set. Off here, so testing and production never do either (devmail also refuses them).
    DEV_BACKGROUND_MAIL = False
    DEV_MAIL_INTERVAL_SECONDS = 3.0
    BASE_URL_FROM_REQUEST = False
    PASSWORD_HASH_METHOD = "scrypt"
    # Issue 16: the languages the pages can be shown in (catalogs in booking/translations/).
    LANGUAGES = ("en", "it")
    # Reverse proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    PROXY_HOPS = _env_int("PROXY_HOPS", 0)
    # Security headers (Flask-Talisman, see booking/__init__.py and docs/SECURITY.md). Scripts
    # only from /static; styles also inline, because the clinic's brand colour, colour swatches,
    # progress bars and the vendored EventCalendar set style attributes (styles cannot run code).
    CONTENT_SECURITY_POLICY = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    REFERRER_POLICY = "strict-origin-when-cross-origin"
    # HSTS only where the site is served over HTTPS for good (production); sent on HTTPS requests.
    SECURITY_HSTS = False
    SECURITY_HSTS_SECONDS = 365 * 24 * 3600


class DevelopmentConfig(Config):
    """Local use: SQLite under ``instance/``, debug on."""

    DEBUG = True
    # `make run` delivers mail by itself (DEV_BACKGROUND_MAIL=0 turns that off, e.g. to try
    # `flask outbox send` by hand); links in mail and feeds follow the address it is served on
    # unless BASE_URL is set.
    DEV_BACKGROUND_MAIL = os.environ.get("DEV_BACKGROUND_MAIL", "1") != "0"
    BASE_URL_FROM_REQUEST = not os.environ.get("BASE_URL")


class TestingConfig(Config):
    """Tests: a database per test (the fixtures set the URL), no CSRF unless a test enables it."""

    TESTING = True
    SECRET_KEY = "testing"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    SERVER_NAME = None
    # Tests create many users; a cheap hash keeps them fast (never use this in production).
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


class ProductionConfig(Config):
    """Production: refuses to start without a real secret and database."""

    DEBUG = False
    SECURITY_HSTS = True
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    @classmethod
    def from_environment(cls) -> dict[str, str]:
        """The required production settings, read now; raise when one is missing."""
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(
                "Production needs these environment variables: " + ", ".join(missing)
            )
        check_secret_key(os.environ["SECRET_KEY"])
        values = {
            "SECRET_KEY": os.environ["SECRET_KEY"],
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(os.environ["DATABASE_URL"]),
        }
        cls.require_mail_transport()
        return values

    @staticmethod
    def require_mail_transport() -> None:
        """Raise unless SMTP is configured (checked last, after the secret and the database).

        Without SMTP, mail would be written to files on the server (the development mailbox),
        where anyone who reads the folder could use a patient's or an admin's reset link.
        """
        if not os.environ.get("SMTP_HOST"):
            raise RuntimeError(
                "Production needs a mail transport: set SMTP_HOST (and SMTP_PORT, SMTP_USERNAME, "
                "SMTP_PASSWORD, SMTP_SECURITY as your mail provider says). Without it mail would be "
                "written to files on the server instead of sent."
            )


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
