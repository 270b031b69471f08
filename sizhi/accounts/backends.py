from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from sizhi.accounts.models import User
from sizhi.accounts.phones import normalise_phone


class PhoneOrUsernameBackend(ModelBackend):
    """Citizens sign in with their mobile number, staff with their username; one form for both."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or not password:
            return None
        user = None
        if normalise_phone(username) is not None:
            user = User.objects.with_phone(username).first()
        if user is None:
            user = User.objects.filter(username=username).first()
        if user is None:
            # Spend the same time as a real check so that timing does not reveal which accounts exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
