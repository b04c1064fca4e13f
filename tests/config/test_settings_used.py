"""Every product setting changes something: product code or a template reads it by name."""

from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [
    "agents",
    "api",
    "approvals",
    "audit",
    "config",
    "identity",
    "outbox",
    "runtime",
    "signoffs",
    "tokens",
    "web",
    "templates",
]


def test_every_countersign_setting_is_read():
    text = "\n".join(
        path.read_text(encoding="utf-8")
        for app in PRODUCT
        for path in (ROOT / app).rglob("*")
        if path.suffix in {".py", ".html"} and path != ROOT / "config" / "settings.py"
    )
    unread = [
        name
        for name in settings.COUNTERSIGN
        if not any(form in text for form in (f'"{name}"', f"'{name}'", f".{name}"))
    ]
    assert unread == []
