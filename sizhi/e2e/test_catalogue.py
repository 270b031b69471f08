"""The English catalogue is complete, compiled and in use.

Read without GNU gettext, so that `make test` needs no system tool: a small .po parser, a small
.mo reader, and a message extractor that finds what `makemessages` would (gettext calls in
Python through `ast`, template tags through Django's own `templatize`). A new string in the
code that is not in the catalogue, an empty or fuzzy translation, a placeholder lost in
translation, or a .po edited without recompiling the .mo all fail here, with the commands that
fix them.
"""

from __future__ import annotations

import ast
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils.translation.template import templatize

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
PO_PATH = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
SOURCE_DIR = Path(settings.BASE_DIR)
IGNORE = "--ignore=.venv --ignore=node_modules --ignore=var"
HOW_TO_FIX = (
    "With GNU gettext installed (`apt-get install -y gettext`, a developer tool only), "
    f"run `.venv/bin/python -m sizhi.manage makemessages -l en {IGNORE}`, translate every empty or "
    f"fuzzy entry of {PO_PATH.relative_to(settings.PROJECT_DIR)} (and drop its `#, fuzzy` line), then "
    f"`.venv/bin/python -m sizhi.manage compilemessages -l en {IGNORE}` and commit the .po and the .mo."
)

Key = tuple[str, str]  # (msgctxt or "", msgid)


# --- the .po -------------------------------------------------------------------------------------


@dataclass
class PoEntry:
    line: int
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> Key:
        return (self.msgctxt or "", self.msgid)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str, line: int) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"{PO_PATH}:{line}: expected a quoted string, got {text!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


def parse_po(path: Path) -> list[PoEntry]:
    """The live entries of a .po file (obsolete `#~` entries are not compiled and are skipped),
    the header included as the entry with an empty msgid."""
    entries: list[PoEntry] = []
    entry: PoEntry | None = None
    target: tuple[str, int] | None = None  # the field that continuation lines extend

    def finish() -> None:
        nonlocal entry, target
        if entry is not None:
            entries.append(entry)
        entry, target = None, None

    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None and entry.msgid and target is not None and target[0] == "msgstr":
                finish()  # a comment after msgstr starts the next entry even without a blank line
            if line.startswith("#,"):
                entry = entry or PoEntry(line=n)
                entry.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
            else:
                entry = entry or PoEntry(line=n)
            continue
        if line.startswith('"'):
            if entry is None or target is None:
                raise ValueError(f"{path}:{n}: continuation line outside an entry")
            name, index = target
            text = _unquote(line, n)
            if name == "msgstr":
                entry.msgstr[index] += text
            else:
                setattr(entry, name, (getattr(entry, name) or "") + text)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and entry is not None and target is not None and target[0] == "msgstr":
            finish()
        entry = entry or PoEntry(line=n)
        if keyword in ("msgctxt", "msgid", "msgid_plural"):
            setattr(entry, keyword, _unquote(rest, n))
            target = (keyword, 0)
        elif (m := re.fullmatch(r"msgstr(?:\[(\d+)\])?", keyword)) is not None:
            index = int(m.group(1) or 0)
            entry.msgstr[index] = _unquote(rest, n)
            target = ("msgstr", index)
        else:
            raise ValueError(f"{path}:{n}: unexpected line {raw!r}")
    finish()
    return entries


# --- the .mo -------------------------------------------------------------------------------------


def read_mo(path: Path) -> dict[str, str]:
    """Every message of a compiled catalogue as gettext stores it: the key is
    `msgctxt\\x04msgid\\x00msgid_plural`, the value the translations joined by \\x00."""
    data = path.read_bytes()
    (magic,) = struct.unpack("<I", data[:4])
    order = {0x950412DE: "<", 0xDE120495: ">"}.get(magic)
    assert order is not None, f"{path} is not a GNU .mo file"
    _revision, count, originals, translations = struct.unpack(f"{order}4I", data[4:20])

    def string(table: int, i: int) -> str:
        length, offset = struct.unpack(f"{order}2I", data[table + 8 * i : table + 8 * i + 8])
        return data[offset : offset + length].decode("utf-8")

    return {string(originals, i): string(translations, i) for i in range(count)}


def mo_key(entry: PoEntry) -> str:
    key = entry.msgid if entry.msgid_plural is None else f"{entry.msgid}\x00{entry.msgid_plural}"
    return key if entry.msgctxt is None else f"{entry.msgctxt}\x04{key}"


# --- the code ------------------------------------------------------------------------------------

# The keywords makemessages gives xgettext, by how their arguments are read.
_ONE = {"_", "gettext", "gettext_lazy", "gettext_noop", "ngettext", "ngettext_lazy"}
_WITH_CONTEXT = {"pgettext", "pgettext_lazy", "npgettext", "npgettext_lazy"}
_CALL = re.compile(r"\b(?:n?p?gettext|_)\(")


def _messages_in_python(source: str, filename: str) -> tuple[set[Key], set[Key]]:
    """The messages of gettext calls with literal arguments, and apart from them those of calls
    inside an f-string, which xgettext does not look into: makemessages never extracts them."""
    tree = ast.parse(source, filename)
    in_fstring = {id(n) for js in ast.walk(tree) if isinstance(js, ast.JoinedStr) for n in ast.walk(js)}
    found: set[Key] = set()
    hidden: set[Key] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        want = 1 if name in _ONE else 2 if name in _WITH_CONTEXT else 0
        args = node.args[:want]
        if not want or len(args) < want:
            continue
        if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
            continue  # a variable or an f-string: xgettext cannot read it either
        values = [a.value for a in args]  # type: ignore[attr-defined]
        context, msgid = ("", values[0]) if want == 1 else (values[0], values[1])
        if msgid:
            (hidden if id(node) in in_fstring else found).add((context, msgid))
    return found, hidden


def _calls(text: str) -> list[str]:
    """The gettext calls in templatize's output, cut out of the filler it puts around them."""
    calls = []
    for m in _CALL.finditer(text):
        i, depth, quote = m.end(), 1, ""
        while i < len(text) and depth:
            c = text[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            i += 1
        calls.append(text[m.start() : i])
    return calls


@dataclass
class CodeMessages:
    found: dict[Key, str] = field(default_factory=dict)  # (context, msgid) -> first file using it
    in_fstrings: dict[Key, str] = field(default_factory=dict)


def messages_in_code(root: Path) -> CodeMessages:
    """Every translatable string under root, as makemessages would extract it."""
    result = CodeMessages()
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".py", ".html", ".txt") or "locale" in path.parts or not path.is_file():
            continue
        name = str(path.relative_to(root.parent))
        source = path.read_text(encoding="utf-8")
        if path.suffix == ".py":
            keys, hidden = _messages_in_python(source, name)
        else:
            keys, hidden = set(), set()
            for call in _calls(templatize(source, origin=name)):
                try:
                    keys |= _messages_in_python(call, name)[0]
                except SyntaxError:
                    continue  # `_(variable)` in a filter argument: nothing to extract
        for key in keys:
            result.found.setdefault(key, name)
        for key in hidden:
            result.in_fstrings.setdefault(key, name)
    return result


# --- placeholders --------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(
    r"%%\([^)]*\)[sd]"  # escaped in a {% trans %} literal, for a script to fill in
    r"|%\([^)]*\)[#0 +-]*\d*(?:\.\d+)?[sdifeEgGxXrc]|%[sd]|%%"  # Python formatting
    r"|<[^>]+>|&[a-z]+;"  # markup
)


def placeholders(text: str) -> Counter[str]:
    return Counter(_PLACEHOLDER.findall(text))


# --- tests ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue() -> list[PoEntry]:
    assert PO_PATH.exists(), f"{PO_PATH} is missing. {HOW_TO_FIX}"
    return parse_po(PO_PATH)


def _messages(catalogue: list[PoEntry]) -> list[PoEntry]:
    return [e for e in catalogue if e.msgid]


def _show(entries: list[PoEntry]) -> str:
    return "\n".join(f"  line {e.line}: {e.msgid!r}" for e in entries[:30])


def test_every_entry_is_translated_and_none_is_fuzzy(catalogue: list[PoEntry]) -> None:
    header = [e for e in catalogue if not e.msgid]
    assert len(header) == 1 and "fuzzy" not in header[0].flags, f"The header of {PO_PATH} must not be fuzzy."
    assert "Language: en" in header[0].msgstr.get(0, "")
    fuzzy = [e for e in _messages(catalogue) if "fuzzy" in e.flags]
    assert not fuzzy, f"{len(fuzzy)} fuzzy entries:\n{_show(fuzzy)}\n{HOW_TO_FIX}"
    empty = [e for e in _messages(catalogue)
             if not e.msgstr or any(not s.strip() for s in e.msgstr.values())
             or (e.msgid_plural is not None and sorted(e.msgstr) != [0, 1])]
    assert not empty, f"{len(empty)} untranslated entries:\n{_show(empty)}\n{HOW_TO_FIX}"
    assert len(_messages(catalogue)) > 1000


def test_every_string_in_the_code_is_in_the_catalogue(catalogue: list[PoEntry]) -> None:
    known = {e.key for e in catalogue}
    in_code = messages_in_code(SOURCE_DIR).found
    missing = sorted((where, key) for key, where in in_code.items() if key not in known)
    listing = "\n".join(f"  {where}: {msgid!r}" + (f" (context {ctx!r})" if ctx else "")
                        for where, (ctx, msgid) in missing[:30])
    assert not missing, f"{len(missing)} strings in the code have no English translation:\n{listing}\n{HOW_TO_FIX}"
    # The extractor must keep up with makemessages, or this test would pass on nothing.
    assert len(in_code) >= 0.95 * len(_messages(catalogue))


# gettext calls inside f-strings that makemessages cannot see, already reported to their owners.
# Remove a line when its call has moved out of the f-string; the test fails until you do.
KNOWN_IN_FSTRINGS: set[tuple[str, str]] = {
    ("sizhi/cases/models.py", "默认"),
    ("sizhi/settingsui/forms.py", "（停用）"),
}


def test_no_translatable_string_hides_in_an_f_string(catalogue: list[PoEntry]) -> None:
    """`f"{_('默认')}"` translates at run time only if something else put the string in the
    catalogue: xgettext does not look inside f-strings, so makemessages never extracts it."""
    known = {e.key for e in catalogue}
    code = messages_in_code(SOURCE_DIR)
    hidden = {(where, key[1]) for key, where in code.in_fstrings.items()
              if key not in known and key not in code.found}
    new = sorted(hidden - KNOWN_IN_FSTRINGS)
    assert not new, (
        "Translatable strings inside f-strings never reach the catalogue; translate them outside the "
        "f-string (e.g. `label = _('...')`, then `f'{label}'`):\n" + "\n".join(f"  {w}: {m!r}" for w, m in new)
    )
    fixed = sorted(KNOWN_IN_FSTRINGS - hidden)
    assert not fixed, f"No longer hidden in an f-string, remove from KNOWN_IN_FSTRINGS: {fixed}"


def test_translations_keep_their_placeholders(catalogue: list[PoEntry]) -> None:
    wrong = []
    for e in _messages(catalogue):
        if e.msgid_plural is None:
            pairs = [(e.msgid, e.msgstr.get(0, ""))]
        else:
            pairs = [(e.msgid, e.msgstr.get(0, "")), (e.msgid_plural, e.msgstr.get(1, ""))]
        for n, (source, translation) in enumerate(pairs):
            want, got = placeholders(source), placeholders(translation)
            if e.msgid_plural is not None and n == 0:
                # "one case" may leave out the count the Chinese needs.
                want = Counter({k: v for k, v in want.items() if not re.fullmatch(r"%\(n\)[sd]", k)})
                got = Counter({k: v for k, v in got.items() if not re.fullmatch(r"%\(n\)[sd]", k)})
            if want != got:
                wrong.append(f"  line {e.line}: {source!r} -> {translation!r}")
    assert not wrong, "Placeholders or markup differ between msgid and msgstr:\n" + "\n".join(wrong[:30])


def test_the_compiled_catalogue_matches_the_po(catalogue: list[PoEntry]) -> None:
    """Compared by content, not by file time: a checkout sets every file's time anew."""
    assert MO_PATH.exists(), f"{MO_PATH} is missing. {HOW_TO_FIX}"
    expected = {
        mo_key(e): "\x00".join(e.msgstr[i] for i in sorted(e.msgstr))
        for e in catalogue if "fuzzy" not in e.flags and all(e.msgstr.values())
    }
    # msgfmt leaves the POT-Creation-Date line out of the compiled header (reproducible builds).
    expected[""] = re.sub(r"(?m)^POT-Creation-Date:.*\n", "", expected[""])
    compiled = read_mo(MO_PATH)
    assert len(compiled) == len(expected), (
        f"{MO_PATH.name} has {len(compiled)} messages, the .po {len(expected)}. {HOW_TO_FIX}"
    )
    stale = sorted(k for k in expected if compiled.get(k) != expected[k])
    assert not stale, f"{len(stale)} messages differ between the .po and the .mo, e.g. {stale[:5]!r}. {HOW_TO_FIX}"


# The officials' terms, as the English interface must say them wherever they stand alone.
GLOSSARY = {
    "网格": "Grid", "网格员": "Grid worker", "受理": "Accept", "立案": "Register", "派遣": "Dispatch",
    "签收": "Sign for", "处置": "Handle", "核查": "Verify", "结案": "Close", "评价": "Rate", "退回": "Return",
    "上报上级": "Escalate", "下派": "Delegate", "主办": "Lead", "协办": "Assisting", "主办单位": "Lead unit",
    "督办": "Supervision order", "回访": "Call-back", "重复件": "Repeat complaint", "书记信箱": "Secretary mailbox",
    "有事您说话": "Tell Us", "党建引领": "Party-building leads", "四治并进": "Four governances together",
    "服务进村": "Services in the village", "申请延期": "Request extension", "约谈名单": "Summons list",
    "月度通报": "Monthly circular",
}


def test_the_officials_terms_are_translated_as_agreed(catalogue: list[PoEntry]) -> None:
    translations = {e.msgid: e.msgstr.get(0, "") for e in catalogue if e.msgctxt is None and e.msgid}
    workflow = ["受理", "立案", "派遣", "签收", "处置", "结案", "评价", "有事您说话"]
    assert all(term in translations for term in workflow)
    wrong = {zh: (translations[zh], en) for zh, en in GLOSSARY.items() if zh in translations and translations[zh] != en}
    assert not wrong, f"Terms translated differently from the glossary (got, want): {wrong}"


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]+")
# Left in Chinese on purpose: the language selector's own name of Chinese and the label that
# leads back to it ("语言 / Language"), and the logo's character.
_KEPT_IN_CHINESE = {"简体中文", "语言", "治"}


@pytest.mark.django_db
def test_switching_the_interface_to_english_shows_english(client: Client) -> None:
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"

    home = client.get("/")
    html = home.content.decode()
    assert home.status_code == 200 and '<html lang="en">' in html
    for text in ("Tell Us", "Services in the village", "My reports", "Track a report", "Sign in", "Sign up",
                 "In an emergency call 110, 119 or 120"):
        assert text in html, text
    body = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    leftover = set(_CJK.findall(re.sub(r"<[^>]+>", " ", body))) - _KEPT_IN_CHINESE
    assert not leftover, f"Chinese left on the English home page: {sorted(leftover)}"

    report = client.get("/report/").content.decode()
    for text in ("Submit report", "Location", "Not sure; let the staff choose", "Description"):
        assert text in report, text

    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    assert "有事您说话" in client.get("/").content.decode()
