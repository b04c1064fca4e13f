"""The error a manifest's faults are reported with, each on its field's dotted path."""

from __future__ import annotations


class ManifestError(ValueError):
    """Report every problem of a manifest.

    ``errors`` maps a dotted field path (``"scope.actions[1].access"``,
    ``"identity.workload_id"``, or ``"manifest"`` for the document as a whole) to
    human messages saying what is wrong there.
    """

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = {path: list(messages) for path, messages in errors.items()}
        summary = "; ".join(f"{path}: {msg}" for path, msgs in self.errors.items() for msg in msgs)
        super().__init__(f"invalid manifest: {summary}")


def dotted(path: tuple | list) -> str:
    """Render a JSON path as ``scope.actions[1].access`` (``manifest`` for the root)."""
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return text.lstrip(".") or "manifest"


def add_error(errors: dict[str, list[str]], path: tuple | list, message: str) -> None:
    """Record ``message`` under ``path`` once."""
    messages = errors.setdefault(dotted(path), [])
    if message not in messages:
        messages.append(message)
