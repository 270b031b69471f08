"""Every change to a letter: one function per action, each guarded by mailbox.permissions,
writing its LetterEvent in the same transaction and one audit record. Views, the demo and tests
all come here.

Audit records name the letter by id and nothing else: never its heading, body, the writer's
name or phone, nor a tracking code. For an anonymous letter even the id is left out of the
submission record, so that the audit trail cannot tie a request to the letter it created.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sizhi.accounts.models import User
from sizhi.audit.services import audit
from sizhi.cases.errors import CaseError
from sizhi.cases.models import Case, Category
from sizhi.cases.photos import ProcessedPhoto, check_photo_count, process_photo
from sizhi.cases.services import report_submit
from sizhi.cases.text import clean_text
from sizhi.cases.workflow import Channel
from sizhi.mailbox import permissions, selectors
from sizhi.mailbox.errors import LetterConflict, LetterError, LetterNotFound, LetterTransitionNotAllowed
from sizhi.mailbox.models import (
    IDENTITY_ORDER,
    Identity,
    Letter,
    LetterAction,
    LetterDelegate,
    LetterEvent,
    LetterLevel,
    LetterPhoto,
    LetterReply,
    LetterStatus,
    LetterSubject,
)
from sizhi.notify.services import notify_users
from sizhi.regions.models import Region
from sizhi.regions.spatial import locate_grid

BODY_MIN = 5
BODY_MAX = 4000
TITLE_MAX = 100
NAME_MAX = 50
REPLY_MAX = 4000
MAX_SUBJECTS = 10

S = LetterStatus
# Which statuses each action may start from, and where it leads (None: the status stays).
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    LetterAction.READ: (frozenset({S.RECEIVED}), S.READ),
    LetterAction.REPLIED: (frozenset({S.RECEIVED, S.READ, S.REPLIED}), S.REPLIED),
    LetterAction.CLOSED: (frozenset({S.READ, S.REPLIED}), S.CLOSED),
    LetterAction.CONVERTED: (frozenset({S.READ, S.REPLIED}), S.CONVERTED),
    LetterAction.DELEGATED: (frozenset({S.RECEIVED, S.READ, S.REPLIED}), None),
    LetterAction.UNDELEGATED: (frozenset({S.RECEIVED, S.READ, S.REPLIED, S.CLOSED, S.CONVERTED}), None),
    LetterAction.SUBJECT: (frozenset({S.RECEIVED, S.READ, S.REPLIED, S.CLOSED, S.CONVERTED}), None),
}


def new_letter_code() -> str:
    # 192 bits from the OS generator, 32 URL-safe characters; only its SHA-256 is stored.
    return secrets.token_urlsafe(24)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _letter_error(err: CaseError) -> LetterError:
    return LetterError(err.message, code=err.code, field=err.field)


# --- writing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    letter: Letter
    # The tracking code, for the receipt only: None when a repeat of the same form comes too
    # late to be shown it again (see _repeat).
    code: str | None
    created: bool


FORM_KEY = re.compile(r"[A-Za-z0-9_-]{43}")
REPEAT_WINDOW = timedelta(minutes=10)


def new_form_key() -> str:
    """The one-time token of a letter form: 256 random bits."""
    return secrets.token_urlsafe(32)


def code_for_form_key(key: str) -> str:
    """The tracking code of the letter a form makes, derived from the form's random token with
    the server's secret (192 bits out of 256 random ones). Neither the token nor the code is
    stored, only hashes; a double submit of the same form shows the same code again, and the
    code never has to sit in a session or a cookie between the POST and the receipt."""
    digest = salted_hmac("sizhi.mailbox.letter-code", key, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")[:32]


def letter_submit(
    *,
    writer: User | None,
    is_anonymous: bool,
    village: Region,
    level: str,
    body: str,
    title: str = "",
    writer_name: str = "",
    identity_consent: str = Identity.NOTHING,
    subject_ids: Sequence[int] = (),
    photos: Sequence[UploadedFile] = (),
    idempotency_key: str | None = None,
    request: HttpRequest | None = None,
) -> Submitted:
    """Write a letter to the secretary of `village` at `level` (the village, its town or its
    county). Named letters need a signed-in writer; an anonymous one keeps no account, name or
    phone, whoever sends it. The same form token twice makes one letter."""
    if is_anonymous:
        writer = None
    elif writer is None:
        raise LetterError(_("署名来信需要先登录；不登录也可以匿名写信。"), code="letter_login_required")
    key = clean_text(idempotency_key)
    if key and not FORM_KEY.fullmatch(key):
        raise LetterError(_("页面已过期，请刷新后重新提交。"), code="letter_key_invalid")
    key_hash = _hash(f"letter-form:{key}") if key else None
    if key_hash is not None:
        earlier = _letter_for_key(key_hash, writer)
        if earlier is not None:
            return _repeat(earlier, key)

    if level not in LetterLevel.values:
        raise LetterError(_("请选择写给哪一级书记。"), code="letter_level_invalid", field="level")
    region = selectors.addressee_region(village, level)
    if region is None:
        raise LetterError(_("请选择您所在的村（社区）。"), code="letter_village_invalid", field="village")
    addressee = selectors.secretary_of(region)
    if addressee is None:
        raise LetterError(
            _("%(place)s的书记暂未开通书记信箱，请选择其他层级，或通过“有事您说话”反映问题。") % {"place": region.name},
            code="letter_no_secretary", field="level",
        )
    body = clean_text(body)
    if len(body) < BODY_MIN:
        raise LetterError(
            _("请把想说的话写清楚，至少 %(n)d 个字。") % {"n": BODY_MIN}, code="letter_body_too_short", field="body"
        )
    if len(body) > BODY_MAX:
        raise LetterError(
            _("来信内容不能超过 %(n)d 个字。") % {"n": BODY_MAX}, code="letter_body_too_long", field="body"
        )
    title = clean_text(title)[:TITLE_MAX] or _summary(body)
    name = phone = ""
    consent: str = Identity.NOTHING
    if writer is not None:
        name = clean_text(writer_name)[:NAME_MAX] or clean_text(writer.display_name)[:NAME_MAX]
        if not name:
            raise LetterError(_("署名来信请填写您的姓名。"), code="letter_name_required", field="writer_name")
        phone = writer.phone or ""
        if identity_consent not in Identity.values:
            raise LetterError(
                _("请选择转办时可以提供的身份信息。"), code="letter_consent_invalid", field="identity_consent"
            )
        consent = identity_consent
    subjects = _subjects_for(region, addressee, subject_ids)
    try:
        check_photo_count(len(photos))
        processed = [process_photo(p) for p in photos]
    except CaseError as err:
        raise _letter_error(err) from err

    code = code_for_form_key(key) if key else new_letter_code()
    try:
        with transaction.atomic():
            now = timezone.now()
            letter = Letter.objects.create(
                addressee=addressee, region=region, level=level, title=title, body=body,
                writer=writer, writer_name=name, writer_phone=phone, is_anonymous=writer is None,
                identity_consent=consent, status=S.RECEIVED, tracking_hash=selectors.tracking_hash(code),
                idempotency_hash=key_hash, created_at=now, updated_at=now,
            )
            for subject in subjects:
                LetterSubject.objects.create(letter=letter, user=subject, marked_by=LetterSubject.MarkedBy.WRITER)
            _store_photos(letter, processed)
            LetterEvent.objects.create(
                letter=letter, action=LetterAction.RECEIVED, to_status=S.RECEIVED, actor=writer, created_at=now
            )
            if writer is None:
                # No actor, no object, no source: the record says only that a letter came in.
                audit("letter.submit", target_type="mailbox.letter")
            else:
                audit("letter.submit", request=request, actor=writer, target=letter)
            notify_users(
                users=[addressee], subject=_("书记信箱有一封新来信"), body=_("请到书记信箱查看。"),
                link=reverse("mailbox:inbox_detail", args=[letter.pk]), email=False,
            )
    except IntegrityError:
        if key_hash is not None:
            earlier = _letter_for_key(key_hash, writer)
            if earlier is not None:
                return _repeat(earlier, key)
        raise
    return Submitted(letter, code, created=True)


def _repeat(earlier: Letter, key: str) -> Submitted:
    # A flaky link resends within seconds; a form page found later in a shared phone's history
    # must not hand out the code of the letter it once sent.
    fresh = earlier.created_at >= timezone.now() - REPEAT_WINDOW
    return Submitted(earlier, code_for_form_key(key) if fresh else None, created=False)


def _letter_for_key(key_hash: str, writer: User | None) -> Letter | None:
    earlier = Letter.objects.filter(idempotency_hash=key_hash).first()
    if earlier is None:
        return None
    if earlier.writer_id != (writer.pk if writer is not None else None):
        raise LetterError(_("页面已过期，请刷新后重新提交。"), code="letter_key_reused")
    return earlier


def _summary(body: str) -> str:
    first = body.splitlines()[0]
    return first[:30] + ("…" if len(first) > 30 else "")


def _subjects_for(region: Region, addressee: User, subject_ids: Sequence[int]) -> list[User]:
    wanted = {int(i) for i in subject_ids}
    if not wanted:
        return []
    if len(wanted) > MAX_SUBJECTS:
        raise LetterError(
            _("最多选择 %(n)d 位被反映人。") % {"n": MAX_SUBJECTS}, code="letter_subjects_too_many", field="subjects"
        )
    if addressee.pk in wanted:
        raise LetterError(
            _("反映收信书记本人的问题，请写信给上一级书记。"), code="letter_subject_is_addressee", field="subjects"
        )
    officials = {u.pk: u for u in selectors.officials_of(region, exclude=addressee)}
    if not wanted <= set(officials):
        raise LetterError(
            _("所选的被反映人不在该地区的工作人员名单中。"), code="letter_subject_invalid", field="subjects"
        )
    return [officials[i] for i in sorted(wanted)]


def _store_photos(letter: Letter, photos: Sequence[ProcessedPhoto]) -> None:
    for photo in photos:
        row = LetterPhoto(
            letter=letter, content_type=photo.content_type, extension=photo.extension, width=photo.width,
            height=photo.height, size=len(photo.content), sha256=photo.sha256,
        )
        row.file.save(f"photo.{photo.extension}", ContentFile(photo.content), save=False)
        row.save()


# --- the addressee's side --------------------------------------------------------------------------


def _move(
    letter: Letter, action: str, actor: User, *, other_user: User | None = None, **changes: object
) -> LetterEvent:
    """Record `action` on the letter, moving its status by TRANSITIONS with a conditional UPDATE:
    of two people acting on the same letter at the same moment exactly one wins."""
    sources, target = TRANSITIONS[action]
    current = Letter.objects.filter(pk=letter.pk).values_list("status", flat=True).first()
    if current is None or current not in sources:
        raise LetterTransitionNotAllowed(action)
    new_status = target or current
    now = timezone.now()
    updated = Letter.objects.filter(pk=letter.pk, status=current).update(
        status=new_status, updated_at=now, **changes
    )
    if updated != 1:
        raise LetterConflict()
    event = LetterEvent.objects.create(
        letter=letter, action=action, from_status=current, to_status=new_status, actor=actor,
        other_user=other_user, created_at=now,
    )
    letter.status = new_status
    letter.updated_at = now
    for field, value in changes.items():
        setattr(letter, field, value)
    return event


def _require(check: bool, letter: Letter, actor: User, action: str, request: HttpRequest | None) -> None:
    if not check:
        audit(f"letter.{action}", request=request, actor=actor, target_type="mailbox.letter",
              target_id=str(letter.pk), result="denied")
        raise LetterNotFound()


def letter_read(*, letter: Letter, actor: User, request: HttpRequest | None = None) -> None:
    """The addressee or a delegate opens the letter. The first opening moves it to 已阅; every
    opening is audited (which letter, by whom, never what it says)."""
    _require(permissions.can_view_letter(actor, letter), letter, actor, "read", request)
    with transaction.atomic():
        if letter.status == S.RECEIVED:
            try:
                _move(letter, LetterAction.READ, actor)
            except (LetterConflict, LetterTransitionNotAllowed):
                letter.refresh_from_db(fields=["status", "updated_at"])
        audit("letter.read", request=request, actor=actor, target=letter)


def _lock(letter: Letter) -> None:
    # Serialises delegate, subject and conversion changes of one letter.
    Letter.objects.select_for_update().filter(pk=letter.pk).values_list("pk", flat=True).first()


DELEGATE_REFUSALS = {
    "delegate_inactive": gettext_lazy("该账号已停用。"),
    "delegate_is_addressee": gettext_lazy("您本人就是收信人。"),
    "delegate_is_admin": gettext_lazy("管理员账号不能查看来信。"),
    "delegate_is_subject": gettext_lazy("来信反映的人员不能查看这封信。"),
    "delegate_out_of_area": gettext_lazy("只能指定本辖区的工作人员。"),
}


def letter_delegate(
    *, letter: Letter, actor: User, delegate: User, request: HttpRequest | None = None
) -> LetterDelegate:
    _require(permissions.can_delegate(actor, letter), letter, actor, "delegate", request)
    refusal = permissions.delegate_refusal(delegate, letter)
    if refusal is not None:
        audit("letter.delegate", request=request, actor=actor, target=letter, result="denied",
              detail={"reason": refusal})
        raise LetterError(DELEGATE_REFUSALS[refusal], code=f"letter_{refusal}", field="delegate")
    with transaction.atomic():
        _lock(letter)
        # Again under the lock: a subject may have been marked in between.
        refusal = permissions.delegate_refusal(delegate, letter)
        if refusal is not None:
            raise LetterError(DELEGATE_REFUSALS[refusal], code=f"letter_{refusal}", field="delegate")
        if LetterDelegate.objects.filter(letter=letter, user=delegate, removed_at__isnull=True).exists():
            raise LetterError(_("已经指定过这位协办人。"), code="letter_delegate_exists", field="delegate")
        _move(letter, LetterAction.DELEGATED, actor, other_user=delegate)
        row = LetterDelegate.objects.create(letter=letter, user=delegate, added_by=actor)
        audit("letter.delegate", request=request, actor=actor, target=letter, detail={"delegate": delegate.pk})
        notify_users(
            users=[delegate], subject=_("您被指定协助处理一封书记信箱来信"), body=_("请到书记信箱查看。"),
            link=reverse("mailbox:inbox_detail", args=[letter.pk]), email=False,
        )
        return row


def _end_delegation(letter: Letter, actor: User, delegate: User) -> bool:
    ended = LetterDelegate.objects.filter(letter=letter, user=delegate, removed_at__isnull=True).update(
        removed_at=timezone.now(), removed_by=actor
    )
    return ended > 0


def letter_undelegate(*, letter: Letter, actor: User, delegate: User, request: HttpRequest | None = None) -> None:
    _require(permissions.can_delegate(actor, letter), letter, actor, "undelegate", request)
    with transaction.atomic():
        _lock(letter)
        if not LetterDelegate.objects.filter(letter=letter, user=delegate, removed_at__isnull=True).exists():
            raise LetterError(_("这位人员不是本信的协办人。"), code="letter_not_delegate", field="delegate")
        _move(letter, LetterAction.UNDELEGATED, actor, other_user=delegate)
        _end_delegation(letter, actor, delegate)
        audit("letter.undelegate", request=request, actor=actor, target=letter, detail={"delegate": delegate.pk})


def letter_mark_subject(
    *, letter: Letter, actor: User, subject: User | None = None, name: str = "", request: HttpRequest | None = None
) -> LetterSubject:
    """The addressee marks an official the letter is about: an account (whose delegation, if
    any, ends at once) or only a name."""
    _require(permissions.can_mark_subject(actor, letter), letter, actor, "subject", request)
    with transaction.atomic():
        _lock(letter)
        name = clean_text(name)[:NAME_MAX]
        if subject is None and not name:
            raise LetterError(_("请选择或填写被反映人。"), code="letter_subject_required", field="subject")
        if subject is not None:
            if subject.pk == actor.pk:
                raise LetterError(
                    _("来信反映您本人的问题时，请转交上一级书记处理。"),
                    code="letter_subject_is_addressee", field="subject",
                )
            if letter.subjects.filter(user=subject).exists():
                raise LetterError(_("已经标注过这位人员。"), code="letter_subject_exists", field="subject")
        _move(letter, LetterAction.SUBJECT, actor, other_user=subject)
        row = LetterSubject.objects.create(
            letter=letter, user=subject, name=name, marked_by=LetterSubject.MarkedBy.ADDRESSEE
        )
        if subject is not None and _end_delegation(letter, actor, subject):
            LetterEvent.objects.create(
                letter=letter, action=LetterAction.UNDELEGATED, from_status=letter.status, to_status=letter.status,
                actor=actor, other_user=subject,
            )
        audit("letter.subject", request=request, actor=actor, target=letter,
              detail={"subject": subject.pk if subject is not None else None})
        return row


def letter_reply(*, letter: Letter, actor: User, body: str, request: HttpRequest | None = None) -> LetterReply:
    """A reply the writer reads on the tracking page; a named writer also gets an inbox message
    (which says only that there is a reply, not what it says)."""
    _require(permissions.can_reply(actor, letter), letter, actor, "reply", request)
    with transaction.atomic():
        text = clean_text(body)
        if not text:
            raise LetterError(_("请填写回复内容。"), code="letter_reply_required", field="body")
        if len(text) > REPLY_MAX:
            raise LetterError(
                _("回复不能超过 %(n)d 个字。") % {"n": REPLY_MAX}, code="letter_reply_too_long", field="body"
            )
        _move(letter, LetterAction.REPLIED, actor)
        reply = LetterReply.objects.create(letter=letter, author=actor, body=text)
        audit("letter.reply", request=request, actor=actor, target=letter, detail={"reply": reply.pk})
        _tell_writer(letter, _("书记回复了您的来信"))
        return reply


def _tell_writer(letter: Letter, subject: str) -> None:
    if letter.is_anonymous or letter.writer is None:
        return
    notify_users(
        users=[letter.writer], subject=subject, body=_("请在“我的来信”中查看。"),
        link=reverse("mailbox:my_letter", args=[letter.pk]), email=False,
    )


def letter_close(*, letter: Letter, actor: User, request: HttpRequest | None = None) -> None:
    _require(permissions.can_close(actor, letter), letter, actor, "close", request)
    with transaction.atomic():
        _move(letter, LetterAction.CLOSED, actor)
        audit("letter.close", request=request, actor=actor, target=letter)
        _tell_writer(letter, _("您的来信已办结"))


def allowed_identities(letter: Letter) -> list[str]:
    """What of the writer may travel with a case: at most what the writer allowed."""
    if letter.is_anonymous or letter.writer_id is None:
        return [Identity.NOTHING.value]
    return [i.value for i in IDENTITY_ORDER[: IDENTITY_ORDER.index(Identity(letter.identity_consent)) + 1]]


def letter_convert_to_case(
    *,
    letter: Letter,
    actor: User,
    identity: str,
    title: str,
    description: str,
    address: str,
    category: Category | None = None,
    request: HttpRequest | None = None,
) -> Case:
    """转为办件: the addressee makes a case of the letter through the ordinary intake
    (cases.services.report_submit), with the text the addressee writes and the identity the
    addressee chooses within what the writer allowed.

    The case keeps channel MAILBOX: it is handled by the units it is dispatched to like any
    case, but stays off dashboards, Open311, webhooks, "me too" suggestions, merging and alert
    scans. The letter itself, its subjects and its delegates never travel with it."""
    _require(permissions.can_convert(actor, letter), letter, actor, "convert", request)
    with transaction.atomic():
        _lock(letter)
        if identity not in allowed_identities(letter):
            raise LetterError(
                _("写信人不同意提供这些身份信息，请重新选择。"), code="letter_identity_not_allowed", field="identity"
            )
        current = Letter.objects.filter(pk=letter.pk).values_list("status", flat=True).first()
        if current not in TRANSITIONS[LetterAction.CONVERTED][0]:
            raise LetterTransitionNotAllowed(LetterAction.CONVERTED)
        text = clean_text(description)
        # The heading comes from the matter itself, never from the writer's name line below.
        title = clean_text(title) or (_summary(text) if text else "")
        if identity == Identity.NAME and text:
            text = _("来信人：%(name)s（仅提供姓名）") % {"name": letter.writer_name} + "\n" + text
        lat, lng = _point_in(letter.region)
        photos = [
            SimpleUploadedFile(f"photo-{p.pk}.{p.extension}", _read(p), content_type=p.content_type)
            for p in selectors.letter_photos(letter)
        ]
        try:
            case = report_submit(
                reporter=letter.writer if identity == Identity.NAME_PHONE else None,
                description=text, title=title, category=category, lat=lat, lng=lng, address=address,
                photos=photos, is_anonymous=identity == Identity.NOTHING, channel=Channel.MAILBOX,
                idempotency_key=f"mailbox-letter-{letter.pk}", actor=actor,
            )
        except CaseError as err:
            raise _letter_error(err) from err
        _move(letter, LetterAction.CONVERTED, actor, case=case, converted_identity=identity)
        audit("letter.convert", request=request, actor=actor, target=letter,
              detail={"case": case.pk, "identity": identity})
        _tell_writer(letter, _("您的来信已转为办件"))
        return case


def _read(photo: LetterPhoto) -> bytes:
    with photo.file.storage.open(photo.file.name, "rb") as handle:
        return bytes(handle.read())


def _point_in(region: Region) -> tuple[float | None, float | None]:
    """The region's centre when it falls in one of its own grids, so the case is placed there;
    otherwise no point (the case is placed by its address, as a report without a map point)."""
    if region.center_lat is None or region.center_lng is None:
        return None, None
    grid = locate_grid(region.center_lat, region.center_lng)
    if grid is None or not grid.region_code.startswith(region.prefix):
        return None, None
    return region.center_lat, region.center_lng
