"""Pluggable SMS delivery. Production plugs in the city's SMS gateway by dotted path in
SIZHI_SMS_BACKEND; development prints to the console; tests keep messages in memory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from sizhi.accounts.phones import mask_phone

logger = logging.getLogger("sizhi.sms")


class SmsBackend(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class ConsoleSmsBackend:
    """Prints the message, so a developer can read verification codes in the `make run` output."""

    def send(self, phone: str, text: str) -> None:
        # Masked: the console ends up in service logs (journald, docker) when no gateway is set up.
        print(f"[SMS → {mask_phone(phone)}] {text}", flush=True)


@dataclass
class SentSms:
    phone: str
    text: str


class LocmemSmsBackend:
    outbox: list[SentSms] = []

    def send(self, phone: str, text: str) -> None:
        LocmemSmsBackend.outbox.append(SentSms(phone, text))


@lru_cache(maxsize=4)
def _backend(path: str) -> SmsBackend:
    backend: SmsBackend = import_string(path)()
    return backend


def send_sms(phone: str, text: str) -> None:
    _backend(settings.SIZHI_SMS_BACKEND).send(phone, text)
    logger.info("sms sent to %s", mask_phone(phone))
