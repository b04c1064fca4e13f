"""`manage.py audit verify|checkpoint|export`: check, anchor and export the audit trail.

Exit status: 0 when all is well, 1 when the chain is broken or a checkpoint given
with --checkpoint cannot be checked, 2 on bad arguments; 141, quietly, when the output's
reader (head, grep -m1) is gone before all of it is written (manage.py, for every command).
"""

import json
import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit import signing
from audit.actors import Actor
from audit.checkpoints import (
    CHECKPOINT_UNTRUSTED,
    MAX_SEQ,
    checkpoint_create,
    checkpoint_export,
    checkpoint_seq,
)
from audit.export import CSV, FORMATS, ExportFilter, export_stream
from audit.verify import audit_verify
from config.times import time_in_utc

EXIT_BROKEN = 1
EXIT_USAGE = 2


class Command(BaseCommand):
    help = "Verify the audit chain, sign a checkpoint of its head, or export it."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="Walk the chain; exit 1 at the first break.")
        verify.add_argument(
            "--checkpoint",
            action="append",
            default=[],
            type=Path,
            help="An exported checkpoint (JSON) kept outside the database; repeatable.",
        )
        verify.add_argument(
            "--trusted-key",
            action="append",
            default=[],
            type=Path,
            help="A public key (PEM) to check checkpoints with besides the signing key and "
            "RETIRED_SIGNING_PUBLIC_KEYS, e.g. one retired before; repeatable.",
        )
        verify.add_argument("--json", action="store_true", help="Print the result as JSON.")
        verify.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="Processes that verify ranges of a long chain at once (default: one per core).",
        )
        checkpoint = sub.add_parser("checkpoint", help="Sign the chain head now.")
        checkpoint.add_argument(
            "--export", type=Path, help="Also write the checkpoint (JSON) to this file."
        )
        export = sub.add_parser("export", help="Write the audit trail as CSV or JSON Lines.")
        export.add_argument("--format", choices=sorted(FORMATS), default=CSV)
        export.add_argument("--since", help="From this time (ISO 8601, inclusive).")
        export.add_argument("--until", help="Until this time (ISO 8601, exclusive).")
        export.add_argument("--agent", default="")
        export.add_argument("--actor", default="")
        export.add_argument("--action", default="")
        export.add_argument("--output", "-o", type=Path, help="File to write (default stdout).")

    def handle(self, *args, **options):
        return getattr(self, f"_{options['subcommand']}")(options)

    def _verify(self, options):
        extra = []
        for path in options["checkpoint"]:
            try:
                document = json.loads(path.read_text())
            except (OSError, ValueError) as error:
                raise CommandError(f"Cannot read checkpoint {path}: {error}", returncode=EXIT_USAGE)
            documents = document if isinstance(document, list) else [document]
            if not all(isinstance(item, dict) for item in documents):
                raise CommandError(
                    f"Checkpoint {path}: expected an exported checkpoint (a JSON object) "
                    "or a list of them.",
                    returncode=EXIT_USAGE,
                )
            for item in documents:
                if checkpoint_seq(item.get("seq")) is None:
                    raise CommandError(
                        f"Checkpoint {path}: seq {item.get('seq')!r} is not a whole number "
                        f"from 1 to {MAX_SEQ}.",
                        returncode=EXIT_USAGE,
                    )
            extra.extend(documents)
        keys = []
        for path in options["trusted_key"]:
            try:
                found = signing.public_keys_in(path.read_text(), source=str(path))
            except OSError as error:
                message = f"--trusted-key: cannot read {path}: {error}"
                raise CommandError(message, returncode=EXIT_USAGE) from error
            except ValueError as error:
                raise CommandError(f"--trusted-key {error}", returncode=EXIT_USAGE) from error
            if not found:
                message = f"--trusted-key {path}: holds no PEM public key."
                raise CommandError(message, returncode=EXIT_USAGE)
            keys.extend(found)
        result = audit_verify(
            extra_checkpoints=extra, trusted_keys=tuple(keys), workers=max(options["workers"], 1)
        )
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict()))
        elif result.ok:
            signed = result.checkpoints
            self.stdout.write(
                f"OK: {result.events} events, head {result.last_seq} {result.head_hash}, "
                f"{signed} checkpoint{'' if signed == 1 else 's'}, {result.seconds} s."
            )
        elif result.reason == CHECKPOINT_UNTRUSTED:
            self.stderr.write(f"NOT VERIFIED ({result.reason}): {result.detail}")
        else:
            self.stderr.write(
                f"BROKEN at seq {result.broken_seq} ({result.reason}): {result.detail}"
            )
        if not options["json"]:
            for key in result.signing_keys:
                count = key["checkpoints"]
                self.stdout.write(
                    f"key {key['fingerprint']} ({key['source']}): "
                    f"{count} checkpoint{'' if count == 1 else 's'} checked"
                )
        for warning in result.warnings:
            self.stderr.write(f"warning: {warning}")
        if not result.ok:
            sys.exit(EXIT_BROKEN)

    # One transaction, so a checkpoint that cannot be written to --export is not kept either.
    @transaction.atomic
    def _checkpoint(self, options):
        checkpoint = checkpoint_create(actor=Actor.system("manage.py audit checkpoint"))
        if checkpoint is None:
            self.stderr.write("The audit trail is empty: nothing to sign.")
            return
        document = json.dumps(checkpoint_export(checkpoint), indent=2)
        if options["export"]:
            with _open_for_writing("--export", options["export"], "w") as out:
                out.write(document + "\n")
        self.stdout.write(document)

    def _export(self, options):
        times = {}
        for name in ("since", "until"):
            value = options[name]
            if value:
                try:
                    times[name] = time_in_utc(value, naive_is_utc=True)
                except ValueError as error:
                    raise CommandError(f"--{name}: {error}", returncode=EXIT_USAGE) from error
        flt = ExportFilter(
            agent=options["agent"], actor=options["actor"], action=options["action"], **times
        )
        out = (
            _open_for_writing("--output", options["output"], "wb")
            if options["output"]
            else sys.stdout.buffer
        )
        try:
            rng, chunks = export_stream(flt, options["format"])
            for chunk in chunks:
                out.write(chunk)
        finally:
            if options["output"]:
                out.close()
            else:
                out.flush()
        self.stderr.write(json.dumps(rng.trailer()))


def _open_for_writing(option: str, path: Path, mode: str):
    """Open the file an option names, or refuse the option saying why it cannot be written."""
    try:
        return path.open(mode)
    except OSError as error:
        message = f"{option}: cannot write {path}: {error.strerror or error}."
        raise CommandError(message, returncode=EXIT_USAGE) from error
