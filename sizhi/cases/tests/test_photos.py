"""Photo intake (cases.photos): the type is decided by decoding, every image is re-encoded as a
fresh JPEG without metadata, and sizes, pixel counts and counts are limited before any pixel is
decoded. What reaches the disk is named by its hash, never by the user."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zlib
from typing import cast

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageSequence

from sizhi.cases import photos, services
from sizhi.cases.errors import ReportInvalid
from sizhi.cases.models import Attachment, Case
from sizhi.conftest import World, inside, make_photo

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def upload(content: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def encoded(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def refused(upload_file: SimpleUploadedFile) -> str:
    with pytest.raises(ReportInvalid) as exc:
        photos.process_photo(upload_file)
    assert exc.value.field == "photos"
    return exc.value.code


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming width x height (1-bit grey), a few bytes of
    image data and IEND: tiny on disk, enormous if anyone decoded it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header (SOF0) is patched to claim width x height."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), "red"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def stored(world: World, photo: SimpleUploadedFile) -> Attachment:
    lat, lng = inside(world.grid_a1)
    case = services.report_submit(
        reporter=world.user("citizen"), description="井盖缺失很危险", lat=lat, lng=lng, photos=[photo]
    )
    return Attachment.objects.get(case=case)


# --- what is stored ----------------------------------------------------------------------------


def test_exif_gps_is_removed_from_the_stored_file(world: World) -> None:
    # given a phone photo that carries the GPS position where it was taken
    photo = make_photo(exif_gps=True)
    with Image.open(io.BytesIO(photo.read())) as original:
        assert original.getexif().get_ifd(GPS_IFD), "the test photo must carry GPS to begin with"
    photo.seek(0)

    # when it is submitted with a report
    attachment = stored(world, photo)

    # then the file on disk has no EXIF at all, GPS included
    with attachment.file.open("rb") as fh:
        raw = fh.read()
    with Image.open(io.BytesIO(raw)) as kept:
        assert kept.format == "JPEG"
        assert not kept.getexif().get_ifd(GPS_IFD)
        assert dict(kept.getexif()) == {}
        assert "exif" not in kept.info
    assert b"Exif\x00\x00" not in raw
    assert b"TestCam" not in raw


@pytest.mark.parametrize(
    ("fmt", "kwargs"),
    [
        ("JPEG", {"comment": b"<script>alert(document.cookie)</script>"}),
        ("GIF", {"comment": b"<script>alert(document.cookie)</script>"}),
        ("JPEG", {"icc_profile": b"<script>alert(document.cookie)</script>" * 4}),
    ],
)
def test_comments_and_profiles_do_not_survive_the_re_encoding(fmt: str, kwargs: dict) -> None:
    raw = encoded(Image.new("RGB", (40, 30), "blue"), fmt, **kwargs)
    assert b"<script>" in raw

    result = photos.process_photo(upload(raw))

    assert b"<script>" not in result.content
    with Image.open(io.BytesIO(result.content)) as kept:
        assert "comment" not in kept.info


def test_xmp_metadata_does_not_survive_the_re_encoding() -> None:
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>'
        b'<rdf:Description exif:GPSLatitude="34,37.5N"/></rdf:RDF></x:xmpmeta>'
    )
    raw = encoded(Image.new("RGB", (40, 30)), "JPEG", xmp=xmp)
    assert b"GPSLatitude" in raw

    result = photos.process_photo(upload(raw))

    assert b"GPSLatitude" not in result.content


def test_polyglot_tail_is_dropped() -> None:
    # a valid JPEG with an HTML page glued to its end
    raw = encoded(Image.new("RGB", (40, 30)), "JPEG") + b"<html><script>alert(1)</script></html>"

    result = photos.process_photo(upload(raw))

    assert b"<script>" not in result.content
    assert result.content.startswith(b"\xff\xd8") and result.content.endswith(b"\xff\xd9")


@pytest.mark.parametrize(
    "name", ["../../etc/passwd.jpg", "..\\..\\boot.ini", "照片\u202egpj.exe", "x" * 300 + ".jpg", "a.jpg\x00.html"]
)
def test_stored_name_never_contains_the_users_filename(world: World, name: str) -> None:
    attachment = stored(world, make_photo(name=name))

    assert attachment.file.name == f"cases/{attachment.sha256[:2]}/{attachment.sha256}.jpg"
    assert attachment.file.path.startswith(str(attachment.file.storage.location))
    with attachment.file.open("rb") as fh:
        assert fh.read(2) == b"\xff\xd8"


def test_attachment_records_what_was_stored(world: World) -> None:
    attachment = stored(world, make_photo(fmt="PNG", size=(120, 90), name="x.png"))

    with attachment.file.open("rb") as fh:
        raw = fh.read()
    assert (attachment.content_type, attachment.extension) == ("image/jpeg", "jpg")
    assert (attachment.width, attachment.height) == (120, 90)
    assert attachment.size == len(raw)


# --- conversions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "fmt", "kwargs"),
    [
        ("RGBA", "PNG", {}),
        ("LA", "PNG", {}),
        ("P", "PNG", {"transparency": 0}),
        ("1", "PNG", {}),
        ("I;16", "PNG", {}),
        ("CMYK", "JPEG", {}),
        ("L", "JPEG", {}),
        ("RGBA", "WEBP", {}),
        ("RGB", "BMP", {}),
        ("P", "GIF", {"transparency": 0}),
    ],
)
def test_other_modes_and_formats_become_a_plain_jpeg(mode: str, fmt: str, kwargs: dict) -> None:
    raw = encoded(Image.new(mode, (50, 40)), fmt, **kwargs)

    result = photos.process_photo(upload(raw, name=f"x.{fmt.lower()}"))

    with Image.open(io.BytesIO(result.content)) as kept:
        assert kept.format == "JPEG"
        assert kept.mode in ("RGB", "L")
        assert kept.size == (50, 40)


def test_png_with_alpha_is_converted(world: World) -> None:
    image = Image.new("RGBA", (64, 48), (255, 0, 0, 0))
    image.paste((0, 255, 0, 255), (0, 0, 32, 48))

    attachment = stored(world, upload(encoded(image, "PNG"), name="alpha.png", content_type="image/png"))

    with attachment.file.open("rb") as fh, Image.open(fh) as kept:
        assert kept.mode == "RGB"
        pixel = cast("tuple[int, int, int]", kept.getpixel((10, 10)))  # an RGB image has (r, g, b) pixels
        assert pixel[1] > 200  # the opaque green half is still green


def test_orientation_is_applied_and_not_kept() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # the camera was turned: display rotated 90°
    raw = encoded(Image.new("RGB", (64, 48)), "JPEG", exif=exif)

    result = photos.process_photo(upload(raw))

    assert (result.width, result.height) == (48, 64)
    with Image.open(io.BytesIO(result.content)) as kept:
        assert ORIENTATION not in kept.getexif()


def test_large_photo_is_scaled_down_to_the_longest_side() -> None:
    raw = encoded(Image.new("RGB", (4000, 1000)), "JPEG")

    result = photos.process_photo(upload(raw))

    assert (result.width, result.height) == (photos.MAX_SIDE, 640)


def test_animated_gif_keeps_only_a_still_frame() -> None:
    frames = [Image.new("RGB", (30, 30), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(out.getvalue())) as check:
        assert len(list(ImageSequence.Iterator(check))) == 3

    result = photos.process_photo(upload(out.getvalue(), name="a.gif"))

    with Image.open(io.BytesIO(result.content)) as kept:
        assert kept.format == "JPEG"
        assert getattr(kept, "n_frames", 1) == 1


def test_same_content_gives_the_same_hash() -> None:
    raw = encoded(Image.new("RGB", (20, 20), "green"), "PNG")

    assert photos.process_photo(upload(raw)).sha256 == photos.process_photo(upload(raw)).sha256


# --- refusals ----------------------------------------------------------------------------------


def test_html_renamed_jpg_is_unreadable() -> None:
    page = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"

    assert refused(upload(page, name="photo.jpg", content_type="image/jpeg")) == "photo_unreadable"


def test_svg_with_script_is_refused() -> None:
    svg = (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
        b'onload="alert(1)"><script>alert(document.domain)</script><rect width="10" height="10"/></svg>'
    )

    assert refused(upload(svg, name="photo.svg", content_type="image/svg+xml")) in {"photo_unreadable", "photo_type"}


def test_empty_file_is_refused() -> None:
    assert refused(upload(b"")) == "photo_empty"


def test_file_over_the_byte_limit_is_refused_before_reading(settings) -> None:
    settings.SIZHI_MAX_PHOTO_BYTES = 2048
    raw = encoded(Image.effect_noise((100, 100), 64).convert("RGB"), "PNG")
    assert len(raw) > 2048

    assert refused(upload(raw)) == "photo_too_large"


def test_file_at_the_byte_limit_is_accepted(settings) -> None:
    raw = encoded(Image.new("RGB", (20, 20)), "PNG")
    settings.SIZHI_MAX_PHOTO_BYTES = len(raw)

    assert photos.process_photo(upload(raw)).width == 20


def test_truncated_jpeg_is_unreadable() -> None:
    raw = encoded(Image.effect_noise((200, 200), 64).convert("RGB"), "JPEG")

    assert refused(upload(raw[: len(raw) // 2])) == "photo_unreadable"


def test_tiff_is_not_an_accepted_type() -> None:
    raw = encoded(Image.new("RGB", (20, 20)), "TIFF")

    assert refused(upload(raw, name="x.tif")) == "photo_type"


@pytest.mark.parametrize(
    "raw",
    [
        png_header_only(50_000, 50_000),  # 2.5 gigapixels
        png_header_only(10_000, 5_000),  # over our 40 MP limit, under Pillow's own bomb guard
        jpeg_claiming(65_000, 65_000),
        png_header_only(1, 60_000_000),
    ],
    ids=["png-50k-x-50k", "png-10k-x-5k", "jpeg-65k-x-65k", "png-1-x-60M"],
)
def test_decompression_bomb_is_refused_fast_and_small(raw: bytes) -> None:
    assert len(raw) < 2000

    tracemalloc.start()
    started = time.perf_counter()
    try:
        code = refused(upload(raw))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert code in {"photo_dimensions", "photo_unreadable"}
    assert elapsed < 1.0
    assert peak < 5 * 1024 * 1024


def test_pixel_limit_is_ours_not_only_pillows(settings) -> None:
    settings.SIZHI_MAX_PHOTO_PIXELS = 100 * 100

    assert refused(upload(encoded(Image.new("RGB", (101, 100)), "PNG"))) == "photo_dimensions"
    assert photos.process_photo(upload(encoded(Image.new("RGB", (100, 100)), "PNG"))).width == 100


def test_nine_photos_are_allowed_and_ten_are_too_many(settings) -> None:
    photos.check_photo_count(settings.SIZHI_MAX_PHOTOS)

    with pytest.raises(ReportInvalid) as exc:
        photos.check_photo_count(settings.SIZHI_MAX_PHOTOS + 1)

    assert exc.value.code == "photo_too_many"


def test_refused_photo_leaves_no_case_and_no_file(world: World, settings) -> None:
    lat, lng = inside(world.grid_a1)

    with pytest.raises(ReportInvalid):
        services.report_submit(
            reporter=world.user("citizen"), description="井盖缺失很危险", lat=lat, lng=lng,
            photos=[make_photo(), upload(png_header_only(50_000, 50_000))],
        )

    assert Case.objects.count() == 0
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))
