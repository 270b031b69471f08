"""Photo files no row points to.

A photo is written to storage before the transaction that records its Attachment commits (the
file must exist when the row becomes visible). A request killed, or rolled back, in between
leaves a file without a row: never a row without a file, but wasted space. The daily job
removes such files once they are old enough that no transaction can still be about to commit
them.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from sizhi.cases.models import Attachment

ATTACHMENT_FOLDER = "cases"  # cases.models.attachment_path
GRACE = timedelta(hours=6)


def orphan_media(*, older_than: timedelta = GRACE) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    folder = root / ATTACHMENT_FOLDER
    if not folder.exists():
        return []
    cutoff = time.time() - older_than.total_seconds()
    candidates = [p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime < cutoff]
    if not candidates:
        return []
    referenced = set(Attachment.objects.values_list("file", flat=True))
    return sorted(p for p in candidates if p.relative_to(root).as_posix() not in referenced)


def remove_orphan_media(*, older_than: timedelta = GRACE) -> int:
    removed = 0
    for path in orphan_media(older_than=older_than):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
