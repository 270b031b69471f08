"""书记信箱 pages: the citizen's letter form, receipt, tracking page and "my letters"; the
secretary's inbox and letter page with its actions.

Every letter is read through mailbox.selectors starting from the person asking, and every
refusal, whoever asks and whatever the letter, is the same 404 as a letter that does not exist.
Anonymous letters: the view tells the audit middleware to keep no source address or object
link for the request, and the service stores nothing that identifies the writer.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sizhi.accounts import throttle
from sizhi.accounts.models import User
from sizhi.accounts.selectors import is_staff_member
from sizhi.audit.middleware import mark_recorded
from sizhi.audit.services import audit, suppress_source
from sizhi.mailbox import permissions, selectors, services
from sizhi.mailbox.errors import LetterError, LetterNotFound
from sizhi.mailbox.forms import (
    ConvertForm,
    LetterForm,
    PlaceForm,
    ReplyForm,
    SubjectForm,
    TrackForm,
    UnmaskForm,
    UserPickForm,
)
from sizhi.mailbox.models import Letter, LetterLevel
from sizhi.privacy.masking import mask_phone
from sizhi.regions.models import Region, RegionLevel

LETTERS_PER_USER = throttle.Limit("letter-user", 10, 60 * 60)
LETTERS_PER_ADDRESS = throttle.Limit("letter-address", 30, 60 * 60)
# Every tracking lookup counts, found or not, so that hits and misses look alike.
TRACK_LOOKUPS = throttle.Limit("letter-track-address", 20, 10 * 60)
LETTER_FIELD_ERRORS = {"body": "body", "subjects": "subjects", "photos": "photos", "writer_name": "writer_name",
                       "identity_consent": "identity_consent"}


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) and request.user.is_authenticated else None


# --- writing ----------------------------------------------------------------------------------------


def _place(request: HttpRequest) -> tuple[PlaceForm, Region | None, User | None, Region | None]:
    """Step one from the query string: the place form, the village, the secretary, their region."""
    params = request.GET
    village = selectors.region_of_level(params.get("village", ""), RegionLevel.VILLAGE)
    town = selectors.region_of_level(params.get("town", ""), RegionLevel.TOWN)
    if village is not None and town is not None and village.parent_id != town.pk:
        village = None  # the writer picked another town: its villages come next
    if village is not None and town is None:
        town = village.parent
    if not params:
        default = selectors.default_village(_user(request))
        initial: dict[str, str] = {"level": LetterLevel.VILLAGE.value}
        if default is not None:
            initial |= {"town": default.parent.code if default.parent else "", "village": default.code}
        return PlaceForm(initial=initial, town=default.parent if default else None), None, None, None
    data = params.copy()
    if village is None and data.get("village"):
        # A village of another town, or no village at all: offer the chosen town's list again.
        data.pop("village")
    form = PlaceForm(data, town=town)
    if not form.is_valid():
        return form, None, None, None
    village = form.cleaned_data["village"]
    region = selectors.addressee_region(village, form.cleaned_data["level"])
    secretary = selectors.secretary_of(region) if region is not None else None
    if region is None or secretary is None:
        place = region.name if region is not None else village.name
        form.add_error("level", _("%(place)s的书记暂未开通书记信箱，请选择其他层级，或通过“有事您说话”反映问题。")
                       % {"place": place})
        return form, village, None, region
    return form, village, secretary, region


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def write(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    place_form, village, secretary, region = _place(request)
    if village is None or secretary is None or region is None:
        refused = place_form.is_bound and any(place_form.errors.get(f) for f in ("town", "village", "level"))
        return render(request, "mailbox/write.html", {"place_form": place_form}, status=400 if refused else 200)
    officials = selectors.officials_of(region, exclude=secretary)
    if request.method != "POST":
        form = LetterForm(officials=officials, signed_in=user is not None)
        return _render_write(request, place_form, form, region)

    form = LetterForm(request.POST, request.FILES, officials=officials, signed_in=user is not None)
    anonymous = user is None or bool(request.POST.get("is_anonymous"))
    if anonymous:
        # No source address, and no record naming the signed-in account that sent an anonymous
        # letter: the service writes the one record of this request, with neither.
        suppress_source(request)
        mark_recorded(request)
    if not form.is_valid():
        if "idempotency_key" in form.errors:
            form.renew_key()
        return _render_write(request, place_form, form, region, status=400)
    if not _write_allowed(request, user):
        form.add_error(None, _("提交过于频繁，请稍后再试。"))
        return _render_write(request, place_form, form, region, status=429)
    data = form.cleaned_data
    try:
        submitted = services.letter_submit(
            writer=None if anonymous else user, is_anonymous=anonymous, village=village,
            level=place_form.cleaned_data["level"], title=data["title"], body=data["body"],
            writer_name=data.get("writer_name", ""), identity_consent=data.get("identity_consent") or "nothing",
            subject_ids=data["subjects"], photos=data["photos"], idempotency_key=str(data["idempotency_key"]),
            request=None if anonymous else request,
        )
    except LetterError as err:
        form.add_error(LETTER_FIELD_ERRORS.get(err.field or ""), str(err.message))
        if err.code == "letter_key_reused":
            form.renew_key()
        return _render_write(request, place_form, form, region, status=err.http_status)
    # The receipt is this response itself: the code is never put in a session, a cookie or a URL.
    return render(request, "mailbox/sent.html", {"receipt": {"code": submitted.code, "anonymous": anonymous}})


def _write_allowed(request: HttpRequest, user: User | None) -> bool:
    if user is not None and not throttle.hit(LETTERS_PER_USER, str(user.pk)):
        return False
    # The address is counted in the cache only, hashed, for an hour; it is never stored with a letter.
    return throttle.hit(LETTERS_PER_ADDRESS, throttle.client_address(request))


def _render_write(
    request: HttpRequest, place_form: PlaceForm, form: LetterForm, region: Region, *, status: int = 200
) -> HttpResponse:
    return render(request, "mailbox/write.html", {
        "place_form": place_form, "form": form, "region": region,
        "village": place_form.cleaned_data["village"], "level": place_form.cleaned_data["level"],
        "level_label": LetterLevel(place_form.cleaned_data["level"]).label,
        "max_photos": settings.SIZHI_MAX_PHOTOS,
        "photos_dropped": form.is_bound and bool(request.FILES.getlist("photos")),
    }, status=status)


# --- tracking --------------------------------------------------------------------------------------


def _throttled(request: HttpRequest) -> HttpResponse:
    response = render(request, "mailbox/track.html", {"form": TrackForm(), "throttled": True,
                                                      "window_minutes": TRACK_LOOKUPS.window // 60}, status=429)
    response["Retry-After"] = str(TRACK_LOOKUPS.window)
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def track(request: HttpRequest) -> HttpResponse:
    """Status and replies of a letter by its tracking code. POST only, so codes stay out of URLs
    and access logs; the page is rendered in place, never redirected to an address with the code."""
    if request.method != "POST":
        return render(request, "mailbox/track.html", {"form": TrackForm()})
    # Whoever holds the code may be the anonymous writer: keep no address, object or account
    # for the request (a refused lookup is still recorded by the middleware, as every 404 is).
    suppress_source(request)
    mark_recorded(request)
    address = throttle.client_address(request)
    if throttle.exceeded(TRACK_LOOKUPS, address):
        return _throttled(request)
    throttle.hit(TRACK_LOOKUPS, address)
    form = TrackForm(request.POST)
    letter = selectors.letter_by_tracking_code(form.cleaned_data["code"]) if form.is_valid() else None
    if letter is None:
        if form.is_valid() or "code" not in form.errors:
            form.add_error("code", _("没有找到对应的来信，请核对查询码。"))
        return render(request, "mailbox/track.html", {"form": form}, status=404)
    audit("letter.track", target_type="mailbox.letter")
    return render(request, "mailbox/letter_status.html", _writer_context(letter))


def _writer_context(letter: Letter) -> dict[str, Any]:
    return {"letter": letter, "replies": list(letter.replies.order_by("created_at", "id")), "case": letter.case}


@login_required
@require_safe
def my_letters(request: HttpRequest) -> HttpResponse:
    return render(request, "mailbox/my_letters.html", {"letters": selectors.letters_of_writer(request.user)})


@login_required
@require_safe
def my_letter(request: HttpRequest, pk: int) -> HttpResponse:
    letter = selectors.letter_of_writer(request.user, pk)
    if letter is None:
        raise Http404
    return render(request, "mailbox/letter_status.html", {**_writer_context(letter), "mine": True})


# --- the secretary's console ---------------------------------------------------------------------


def _staff(request: HttpRequest) -> User:
    """Signed-in, non-administrator staff; anyone else is told the page does not exist."""
    user = _user(request)
    if user is None or not is_staff_member(user) or permissions.holds_admin_role(user):
        raise Http404
    return user


def _letter_or_404(user: User, pk: int) -> Letter:
    letter = selectors.letter_get_for_user(user, pk)
    if letter is None:
        raise Http404
    return letter


@never_cache
@require_safe
def inbox(request: HttpRequest) -> HttpResponse:
    user = _staff(request)
    letters = list(selectors.letters_for_user(user)[:200])
    return render(request, "mailbox/inbox.html", {"letters": letters, "nav": "mailbox", "me": user})


def _detail_context(
    request: HttpRequest, user: User, letter: Letter, *, phone_shown: bool = False, **forms: Any
) -> dict[str, Any]:
    actions = permissions.letter_actions(user, letter)
    delegates = list(letter.delegates.filter(removed_at__isnull=True).select_related("user"))
    context: dict[str, Any] = {
        "letter": letter, "nav": "mailbox", "actions": actions,
        "is_addressee": permissions.is_addressee(user, letter),
        "photos": list(selectors.letter_photos(letter)),
        "replies": list(letter.replies.select_related("author")),
        "subjects": list(letter.subjects.select_related("user")),
        "delegates": delegates,
        "events": list(letter.events.select_related("actor", "other_user")),
        # Masked unless the addressee has just asked for it with a reason (audited).
        "writer_phone": letter.writer_phone if phone_shown else mask_phone(letter.writer_phone),
        "can_unmask": bool(letter.writer_phone) and not phone_shown and permissions.is_addressee(user, letter),
        "unmask_form": UnmaskForm(),
    }
    if "reply" in actions:
        context["reply_form"] = forms.get("reply_form") or ReplyForm()
    if "delegate" in actions:
        context["delegate_form"] = forms.get("delegate_form") or UserPickForm(
            users=selectors.delegate_candidates(letter), testid="letter-delegate-user")
        context["subject_form"] = forms.get("subject_form") or SubjectForm(
            users=selectors.officials_of(letter.region, exclude=letter.addressee))
    if "convert" in actions:
        context["convert_form"] = forms.get("convert_form") or ConvertForm(
            identities=services.allowed_identities(letter),
            initial={"title": letter.title, "description": letter.body[:3800], "address": letter.region.name,
                     "identity": "nothing"},
        )
    return context


@never_cache
@require_safe
def inbox_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _staff(request)
    letter = _letter_or_404(user, pk)
    services.letter_read(letter=letter, actor=user, request=request)
    return render(request, "mailbox/detail.html", _detail_context(request, user, letter))


@never_cache
@require_safe
def inbox_photo(request: HttpRequest, pk: int, photo_id: int) -> FileResponse:
    user = _staff(request)
    letter = _letter_or_404(user, pk)
    photo = selectors.letter_photos(letter).filter(pk=photo_id).first()
    if photo is None:
        raise Http404
    try:
        handle = photo.file.storage.open(photo.file.name, "rb")
    except OSError as exc:
        raise Http404 from exc
    audit("letter.photo", request=request, actor=user, target=letter, detail={"photo": photo.pk})
    content_type = photo.content_type if photo.content_type.startswith("image/") else "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="letter-{letter.pk}-{photo.pk}.{photo.extension}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _act(request: HttpRequest, pk: int, run: Any, form_name: str, form: Any) -> HttpResponseBase:
    """Run one service for a POST from the letter page: back to the page with a message, or the
    page again with the refusal beside the form (its own status). Not allowed at all: 404."""
    user = _staff(request)
    letter = _letter_or_404(user, pk)
    if form.is_valid():
        try:
            message = run(user, letter, form.cleaned_data)
        except LetterNotFound as exc:
            raise Http404 from exc
        except LetterError as err:
            form.add_error(None, str(err.message))
            status = err.http_status
        else:
            messages.success(request, message)
            return redirect("mailbox:inbox_detail", pk=letter.pk)
    else:
        status = 400
    letter = _letter_or_404(user, pk)
    return render(request, "mailbox/detail.html", _detail_context(request, user, letter, **{form_name: form}),
                  status=status)


def _pick(users: list[User], user_id: int) -> User:
    found = next((u for u in users if u.pk == user_id), None)
    if found is None:
        raise LetterError(_("请选择人员。"), code="letter_user_invalid", field="user")
    return found


@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponseBase:
    def run(user: User, letter: Letter, data: dict[str, Any]) -> str:
        services.letter_reply(letter=letter, actor=user, body=data["body"], request=request)
        return _("已回复，写信人可以看到您的回复。")

    return _act(request, pk, run, "reply_form", ReplyForm(request.POST))


@require_POST
def delegate(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _staff(request)
    letter = _letter_or_404(user, pk)
    # Any staff account may be proposed; the service says why one cannot be a delegate.
    candidates = selectors.officials_of(letter.region)
    raw = request.POST.get("user", "")
    proposed = User.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) < 12 else None
    users = [*candidates, *([proposed] if proposed is not None and proposed not in candidates else [])]

    def run(user: User, letter: Letter, data: dict[str, Any]) -> str:
        services.letter_delegate(letter=letter, actor=user, delegate=_pick(users, data["user"]), request=request)
        return _("已指定协办人。")

    return _act(request, pk, run, "delegate_form",
                UserPickForm(request.POST, users=users, testid="letter-delegate-user"))


@require_POST
def undelegate(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _staff(request)
    letter = _letter_or_404(user, pk)
    users = [d.user for d in letter.delegates.filter(removed_at__isnull=True).select_related("user")]

    def run(user: User, letter: Letter, data: dict[str, Any]) -> str:
        services.letter_undelegate(letter=letter, actor=user, delegate=_pick(users, data["user"]), request=request)
        return _("已撤销协办人，对方不能再查看这封信。")

    return _act(request, pk, run, "delegate_form", UserPickForm(request.POST, users=users, testid="undelegate"))


@require_POST
def subject(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _staff(request)
    letter = _letter_or_404(user, pk)
    users = selectors.officials_of(letter.region, exclude=letter.addressee)

    def run(user: User, letter: Letter, data: dict[str, Any]) -> str:
        picked = _pick(users, data["user"]) if data["user"] is not None else None
        services.letter_mark_subject(letter=letter, actor=user, subject=picked, name=data["name"], request=request)
        return _("已标注被反映人；其不能查看或协办这封信。")

    return _act(request, pk, run, "subject_form", SubjectForm(request.POST, users=users))


@never_cache
@require_POST
def unmask_phone(request: HttpRequest, pk: int) -> HttpResponse:
    """The addressee sees the writer's full number, for a stated purpose; the page is answered
    directly (never stored, never in a redirect) and the unmasking is audited."""
    user = _staff(request)
    letter = _letter_or_404(user, pk)
    if not permissions.is_addressee(user, letter) or not letter.writer_phone:
        raise Http404
    form = UnmaskForm(request.POST)
    if not form.is_valid():
        context = _detail_context(request, user, letter)
        context["unmask_form"] = form
        return render(request, "mailbox/detail.html", context, status=400)
    audit("letter.unmask", request=request, actor=user, target=letter,
          detail={"field": "writer_phone", "purpose": form.cleaned_data["purpose"]})
    return render(request, "mailbox/detail.html", _detail_context(request, user, letter, phone_shown=True))


@require_POST
def close(request: HttpRequest, pk: int) -> HttpResponseBase:
    def run(user: User, letter: Letter, data: dict[str, Any]) -> str:
        services.letter_close(letter=letter, actor=user, request=request)
        return _("来信已办结。")

    return _act(request, pk, run, "close_form", forms.Form(request.POST))


@require_POST
def convert(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _staff(request)
    letter = _letter_or_404(user, pk)

    def run(user: User, letter: Letter, data: dict[str, Any]) -> str:
        case = services.letter_convert_to_case(
            letter=letter, actor=user, identity=data["identity"], title=data["title"],
            description=data["description"], address=data["address"], category=data["category"], request=request,
        )
        return _("已转为办件 %(number)s。") % {"number": case.number}

    return _act(request, pk, run, "convert_form",
                ConvertForm(request.POST, identities=services.allowed_identities(letter)))
