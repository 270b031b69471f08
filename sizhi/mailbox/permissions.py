"""Who may see and do what with a letter: plain functions.

A letter is seen by its addressee and by the delegates the addressee names, nobody else: no
superior, no dispatcher, no administrator. An official the letter is about is shut out even if
he happens to be the addressee's delegate or (by a mistake of the writer) the addressee
himself. Every refusal is answered as "not found" by the callers.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from sizhi.accounts.models import ADMIN_ROLES, Membership, User
from sizhi.accounts.selectors import active_memberships
from sizhi.mailbox.models import Letter, LetterStatus

AnyUser = User | AnonymousUser | None


def _signed_in(user: AnyUser) -> User | None:
    if isinstance(user, User) and user.is_authenticated and user.is_active:
        return user
    return None


def holds_admin_role(user: AnyUser) -> bool:
    return any(m.role in ADMIN_ROLES for m in active_memberships(user))


def is_subject(user: AnyUser, letter: Letter) -> bool:
    u = _signed_in(user)
    return u is not None and letter.subjects.filter(user=u).exists()


def is_active_delegate(user: AnyUser, letter: Letter) -> bool:
    u = _signed_in(user)
    return u is not None and letter.delegates.filter(user=u, removed_at__isnull=True).exists()


def _may_hold_letters(user: AnyUser, letter: Letter) -> User | None:
    u = _signed_in(user)
    if u is None or holds_admin_role(u) or is_subject(u, letter):
        return None
    return u


def can_view_letter(user: AnyUser, letter: Letter) -> bool:
    u = _may_hold_letters(user, letter)
    if u is None:
        return False
    return letter.addressee_id == u.pk or is_active_delegate(u, letter)


def is_addressee(user: AnyUser, letter: Letter) -> bool:
    u = _may_hold_letters(user, letter)
    return u is not None and letter.addressee_id == u.pk


# The addressee alone decides who else reads the letter, closes it and turns it into a case.
can_delegate = is_addressee
can_mark_subject = is_addressee
can_close = is_addressee
can_convert = is_addressee
# Delegates help answer: they may reply.
can_reply = can_view_letter


def can_view_as_writer(user: AnyUser, letter: Letter) -> bool:
    """A named writer, signed in, follows the letter under 我的来信 (anonymous writers by code)."""
    u = _signed_in(user)
    return u is not None and not letter.is_anonymous and letter.writer_id == u.pk


def staff_in_area(m: Membership, letter: Letter) -> bool:
    return (
        m.role not in ADMIN_ROLES
        and m.scope is not None
        and m.scope.code.startswith(letter.region.prefix)
    )


def delegate_refusal(candidate: User, letter: Letter) -> str | None:
    """Why `candidate` cannot be a delegate of `letter` (a code), or None when they can."""
    if not candidate.is_active:
        return "delegate_inactive"
    if candidate.pk == letter.addressee_id:
        return "delegate_is_addressee"
    memberships = list(Membership.objects.filter(user=candidate, is_active=True).select_related("scope"))
    if any(m.role in ADMIN_ROLES for m in memberships):
        return "delegate_is_admin"
    if letter.subjects.filter(user=candidate).exists():
        return "delegate_is_subject"
    if not any(staff_in_area(m, letter) for m in memberships):
        return "delegate_out_of_area"
    return None


def letter_actions(user: AnyUser, letter: Letter) -> set[str]:
    """What the user may do now on the letter page."""
    actions: set[str] = set()
    if letter.status not in (LetterStatus.RECEIVED, LetterStatus.READ, LetterStatus.REPLIED):
        return actions
    if can_reply(user, letter):
        actions.add("reply")
    if is_addressee(user, letter):
        actions |= {"delegate", "subject", "close", "convert"}
    return actions
