"""Re-encrypt every encrypted column under the current key and cipher.

After putting a new key first in SIZHI_FIELD_KEYS (or switching SIZHI_FIELD_CIPHER to sm4-gcm),
old rows still decrypt; this rewrites them so the old key can later be removed. Safe to stop and
run again: only rows whose token names another key or algorithm are touched.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from sizhi.privacy.crypto import decrypt, keyring, needs_rotation
from sizhi.privacy.fields import EncryptedTextField

BATCH = 500


def rekey(*, dry_run: bool = False) -> dict[str, int]:
    """{"app.model": rows rewritten} for every model with an encrypted field."""
    done: dict[str, int] = {}
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if not fields:
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        pk = connection.ops.quote_name(model._meta.pk.column)
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        count, last = 0, None
        while True:
            # Raw tokens (the ORM would hand back plaintext), in primary-key pages.
            where = f"WHERE {pk} > %s " if last is not None else ""
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {pk}, {columns} FROM {table} {where}ORDER BY {pk} LIMIT {BATCH}",  # noqa: S608
                    [last] if last is not None else [],
                )
                rows = cursor.fetchall()
            if not rows:
                break
            last = rows[-1][0]
            with transaction.atomic():
                for row in rows:
                    changes = {
                        f.name: decrypt(token, context=f.context)
                        for f, token in zip(fields, row[1:], strict=True)
                        if token and needs_rotation(token)
                    }
                    if changes:
                        count += 1
                        if not dry_run:
                            # update() encrypts through the field, under the current key.
                            model._default_manager.filter(pk=row[0]).update(**changes)
        done[model._meta.label_lower] = count
    return done


class Command(BaseCommand):
    help = "Re-encrypt personal data under the current key (SIZHI_FIELD_KEYS, first entry) and cipher."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count the rows, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        ring = keyring()
        self.stdout.write(f"current key {ring.current_key_id}, cipher {ring.cipher.algorithm}")
        for label, count in rekey(dry_run=options["dry_run"]).items():
            verb = "would rewrite" if options["dry_run"] else "rewrote"
            self.stdout.write(f"{label}: {verb} {count} rows")
