"""The mailbox's part of `sizhi demo load`: in 寇店村 the demo villager writes a signed letter to
his village's party secretary, who opens it, asks the grid worker to help, replies and turns it
into a case; and an anonymous letter about the village committee's accounts waits unopened.

Everything goes through mailbox.services, as the pages would do it. The tracking codes are not
kept (only their hashes are), exactly as for a real writer.
"""

from __future__ import annotations

from django.db.models import Q

from sizhi.accounts.models import User
from sizhi.demo.people import DEMO_CITIZEN_PHONE, DEMO_VILLAGE_CODE
from sizhi.mailbox import selectors, services
from sizhi.mailbox.models import Identity, Letter, LetterLevel
from sizhi.regions.models import Region
from sizhi.regions.selectors import region_scope_q

SIGNED_BODY = (
    "李书记您好：村东头通往小学的那段路，下雨天积水能没过脚踝，孩子们上学只能绕远路走大路，"
    "车多很危险。去年说要修排水沟，到现在还没动工。能不能请村里问问镇上，什么时候能修？"
)
ANONYMOUS_BODY = (
    "书记：村里去年收的垃圾清运费一直没有公开账目，每户一年一百二，不知道钱用到哪里了。"
    "希望村务公开栏能把收支贴出来。我不方便署名，请理解。"
)


def load_mailbox_demo() -> int:
    """Write the demo letters; returns how many. Does nothing without the demo village's secretary."""
    village = Region.objects.filter(code=DEMO_VILLAGE_CODE).first()
    villager = User.objects.with_phone(DEMO_CITIZEN_PHONE).first()
    if village is None or villager is None:
        return 0
    secretary = selectors.secretary_of(village)
    if secretary is None:
        return 0
    helper = User.objects.filter(username="grid_worker").first()
    signed = services.letter_submit(
        writer=villager, is_anonymous=False, village=village, level=LetterLevel.VILLAGE,
        title="村东小学路段积水，孩子上学不安全", body=SIGNED_BODY, writer_name=villager.display_name,
        identity_consent=Identity.NAME_PHONE,
    ).letter
    services.letter_read(letter=signed, actor=secretary)
    if helper is not None and services.permissions.delegate_refusal(helper, signed) is None:
        services.letter_delegate(letter=signed, actor=secretary, delegate=helper)
    services.letter_reply(
        letter=signed, actor=secretary,
        body="王建国同志：来信收到。这段路的排水沟已列入今年镇里的计划，我已转为办件，"
             "请网格员先去现场看积水情况，办理进度您可以在“我的反映”里看到。",
    )
    services.letter_convert_to_case(
        letter=signed, actor=secretary, identity=Identity.NAME_PHONE, title="村东小学路段积水，需修排水沟",
        description="村东头通往小学的路段雨后积水严重，学生上学绕行大路存在安全隐患，请安排修建排水沟。",
        address=f"{village.name}村东小学路段",
    )
    cadre = User.objects.filter(username="village_cadre").first()
    officials = {u.pk for u in selectors.officials_of(village, exclude=secretary)}
    services.letter_submit(
        writer=None, is_anonymous=True, village=village, level=LetterLevel.VILLAGE,
        title="垃圾清运费账目不公开", body=ANONYMOUS_BODY,
        subject_ids=[cadre.pk] if cadre is not None and cadre.pk in officials else [],
    )
    return 2


def delete_mailbox_demo(city: Region | None) -> None:
    """Before the demo's cases and accounts go: its letters (rows and photo files)."""
    if city is None:
        return
    letters = Letter.objects.filter(Q(region_scope_q(city, "region__code")))
    for letter in letters:
        for photo in letter.photos.all():
            photo.file.delete(save=False)
    letters.delete()
