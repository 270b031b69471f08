"""Reads of a user's own inbox."""

from __future__ import annotations

from django.db.models import QuerySet

from sizhi.accounts.models import User
from sizhi.notify.models import Notification, NotificationChannel


def inbox_for_user(user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user, channel=NotificationChannel.INBOX).order_by("-created_at", "-id")


def unread_count(user: User) -> int:
    return inbox_for_user(user).filter(read_at__isnull=True).count()
