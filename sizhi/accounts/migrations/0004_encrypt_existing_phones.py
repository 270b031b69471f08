"""Phones encrypted at rest, step 2 of 3: encrypt every existing User.phone and replace each
VerificationCode phone with its blind index (own migration: on PostgreSQL data and schema
changes to one table do not mix in one transaction)."""

from typing import Any

from django.db import migrations

from sizhi.accounts.phones import normalise_phone, phone_blind_index


def encrypt_phones(apps: Any, schema_editor: Any) -> None:
    User = apps.get_model("accounts", "User")
    for pk, phone in User.objects.exclude(phone__isnull=True).exclude(phone="").values_list("pk", "phone"):
        number = normalise_phone(phone)
        # update() runs the encrypted field's get_prep_value, so the new column gets ciphertext.
        User.objects.filter(pk=pk).update(phone_encrypted=number, phone_index=phone_blind_index(number))
    Code = apps.get_model("accounts", "VerificationCode")
    for pk, phone in Code.objects.values_list("pk", "phone"):
        Code.objects.filter(pk=pk).update(phone_index=phone_blind_index(phone) or "")


def decrypt_phones(apps: Any, schema_editor: Any) -> None:
    User = apps.get_model("accounts", "User")
    for pk, phone in User.objects.exclude(phone_encrypted__isnull=True).values_list("pk", "phone_encrypted"):
        User.objects.filter(pk=pk).update(phone=phone or None)
    # Codes cannot be turned back into numbers; they expire in ten minutes anyway.
    apps.get_model("accounts", "VerificationCode").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_phone_encrypted")]

    operations = [migrations.RunPython(encrypt_phones, decrypt_phones, elidable=False)]
