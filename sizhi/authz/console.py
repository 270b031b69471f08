"""Who the case-handling console hides itself from.

The three administrator roles (三权分立) have no business in the console. Its pages answer them
404, as the audit pages answer everyone but the audit admin and the system and security pages
everyone but their own admin: a page a role may not see does not admit to existing, and the
audit middleware records the refusal (a 404 to a signed-in user). Citizens and other accounts
without a working role keep the 403 page that tells them the console is for staff.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from sizhi.accounts.models import User
from sizhi.accounts.selectors import is_admin, is_staff_member


def console_hidden_from(user: User | AnonymousUser | None) -> bool:
    """An administrator with no working role. (An account that wrongly holds both is let in as
    staff, as before; the grant refuses such a mix.)"""
    return is_admin(user) and not is_staff_member(user)
