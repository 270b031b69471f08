""".env.example lists every environment variable the code reads (the README sends people there)."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
READ = re.compile(r"""env_(?:str|bool|int|list)\(\s*["']([A-Z][A-Z0-9_]+)["']""")
LISTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)=", re.MULTILINE)


def test_every_variable_read_is_listed_in_env_example() -> None:
    read = {
        name
        for path in (PROJECT / "sizhi").rglob("*.py")
        if "tests" not in path.parts
        for name in READ.findall(path.read_text(encoding="utf-8"))
    }
    listed = set(LISTED.findall((PROJECT / ".env.example").read_text(encoding="utf-8")))
    assert "DATABASE_URL" in read
    assert read - listed == set()
