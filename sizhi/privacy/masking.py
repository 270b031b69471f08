"""Masked forms of personal data for pages, exports and logs: enough to recognise, not to use."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """"13812345678" -> "138****5678"; anything that is not 11 characters -> "****"."""
    phone = phone or ""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "****"


def mask_id_number(id_number: str | None) -> str:
    """"410303199001011234" -> "4103**********1234" (region prefix and last four kept, the
    birth date hidden); anything that is not 18 characters -> "****"."""
    id_number = id_number or ""
    return f"{id_number[:4]}{'*' * 10}{id_number[-4:]}" if len(id_number) == 18 else "****"
