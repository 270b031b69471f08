import pytest

from sizhi.privacy.masking import mask_id_number, mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [("13812345678", "138****5678"), ("", "****"), (None, "****"), ("1381234567", "****")],
)
def test_mask_phone(value: str | None, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [("410303199001011234", "4103**********1234"), ("41030319900101123X", "4103**********123X"),
     ("", "****"), (None, "****"), ("410303900101123", "****")],
)
def test_mask_id_number(value: str | None, masked: str) -> None:
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("call 13612345678.", ["phone"]),
        ("tel:+8613612345678", ["phone"]),
        ("'13612345678'", ["phone"]),
        ("[112.13612345678, 34.1]", []),  # a coordinate's fraction
        ("13612345678.5", []),
        ("index 0a13612345678bcdef", []),  # inside a hex digest
        ("id 11010519491231002X ok", ["id_number"]),
        ("id 110105194912310021 ok", []),  # wrong check digit: not an ID number, just digits
        ("ts 1764220000000", []),
    ],
)
def test_leak_scanner(text: str, kinds: list[str]) -> None:
    from sizhi.privacy.leaks import scan_text

    findings = scan_text(text, "t")
    assert [f.kind for f in findings] == kinds
    assert all("*" in f.masked for f in findings)  # reports never repeat the number


def test_console_sms_backend_masks_the_number(capsys: pytest.CaptureFixture[str]) -> None:
    from sizhi.notify.sms import ConsoleSmsBackend

    ConsoleSmsBackend().send("13612345678", "【四治】验证码 123456")
    out = capsys.readouterr().out
    assert "136****5678" in out and "13612345678" not in out
