"""Photo intake: the type is decided by decoding the content, never by name or header; every
image is re-encoded as a fresh JPEG, which drops EXIF (GPS included), scripts and polyglot
payloads; size, pixel count and count per submission are limited."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from sizhi.cases.errors import ReportInvalid

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "MPO"})
MAX_SIDE = 2560


@dataclass(frozen=True)
class ProcessedPhoto:
    content: bytes
    width: int
    height: int
    sha256: str
    content_type: str = "image/jpeg"
    extension: str = "jpg"


def check_photo_count(count: int) -> None:
    if count > settings.SIZHI_MAX_PHOTOS:
        raise ReportInvalid(
            _("最多上传 %(n)d 张照片。") % {"n": settings.SIZHI_MAX_PHOTOS}, code="photo_too_many", field="photos"
        )


def process_photo(upload: UploadedFile) -> ProcessedPhoto:
    size = upload.size or 0
    if size == 0:
        raise ReportInvalid(_("照片文件是空的，请重新选择。"), code="photo_empty", field="photos")
    if size > settings.SIZHI_MAX_PHOTO_BYTES:
        raise ReportInvalid(
            _("单张照片不能超过 %(mb)d MB。") % {"mb": settings.SIZHI_MAX_PHOTO_BYTES // (1024 * 1024)},
            code="photo_too_large", field="photos",
        )
    upload.seek(0)
    raw = upload.read()
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            fmt = probe.format
            width, height = probe.size
            if fmt not in ACCEPTED_FORMATS:
                raise ReportInvalid(_("只能上传 JPEG、PNG、WebP 等图片。"), code="photo_type", field="photos")
            # Checked before decoding a single pixel, so a decompression bomb costs nothing.
            if width * height > settings.SIZHI_MAX_PHOTO_PIXELS or width == 0 or height == 0:
                raise ReportInvalid(_("照片尺寸过大或无效。"), code="photo_dimensions", field="photos")
            probe.seek(0)
            image = ImageOps.exif_transpose(probe)
            image.load()
    except ReportInvalid:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ReportInvalid(_("无法识别的图片文件，请换一张照片。"), code="photo_unreadable", field="photos") from exc

    if image.mode not in ("RGB", "L"):
        image = image.convert("RGBA").convert("RGB") if "A" in image.getbands() else image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    # No exif= argument, and the decoder's info dropped: Pillow's JPEG writer copies a source
    # comment (JPEG COM, GIF comment) from it by default, which would carry text or script through.
    image.info.clear()
    image.save(out, format="JPEG", quality=85, optimize=True)
    content = out.getvalue()
    return ProcessedPhoto(
        content=content, width=image.width, height=image.height, sha256=hashlib.sha256(content).hexdigest()
    )
