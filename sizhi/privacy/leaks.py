"""Find phone and ID-card numbers where they must not be: log files, audit rows, the outbox.

Used by the leak tests and by the session-end check of the test run. A finding is reported with
the number masked, so the report does not become a leak itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sizhi.privacy.idcards import is_valid_id_number
from sizhi.privacy.masking import mask_id_number, mask_phone

# Bounded by anything but letters and digits: a run of digits inside a hex blind index or a
# base64 ciphertext is not a phone number, nor are the digits of a decimal fraction (coordinates).
_BEFORE = r"(?<![0-9A-Za-z])(?<![0-9]\.)"
_AFTER = r"(?![0-9A-Za-z])(?!\.[0-9])"
PHONE_RE = re.compile(_BEFORE + r"(?:\+?86[ -]?)?1[3-9][0-9]{9}" + _AFTER)
ID_RE = re.compile(_BEFORE + r"[0-9]{17}[0-9Xx]" + _AFTER)


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str  # "phone" | "id_number" | "value"
    masked: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind} {self.masked}"


def _mask_any(value: str) -> str:
    if len(value) == 11:
        return mask_phone(value)
    if len(value) == 18:
        return mask_id_number(value)
    return f"{value[:2]}…{value[-2:]}" if len(value) > 4 else "****"


def scan_text(text: str, where: str, *, values: Iterable[str] = ()) -> list[Finding]:
    """Phone numbers, valid ID-card numbers, and any of `values` (exact, e.g. the raw forms a
    test typed) found in `text`."""
    found = [Finding(where, "phone", mask_phone(m.group()[-11:])) for m in PHONE_RE.finditer(text)]
    found += [
        Finding(where, "id_number", mask_id_number(m.group().upper()))
        for m in ID_RE.finditer(text)
        if is_valid_id_number(m.group())
    ]
    found += [Finding(where, "value", _mask_any(v)) for v in values if v and v in text]
    return found


def scan_files(paths: Iterable[Path], *, values: Iterable[str] = ()) -> list[Finding]:
    wanted = [v for v in values if v]
    findings: list[Finding] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:  # another process's file, removed meanwhile
            continue
        for number, line in enumerate(lines, 1):
            findings += scan_text(line, f"{path.name}:{number}", values=wanted)
    return findings


def log_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.log")) if directory.is_dir() else []
