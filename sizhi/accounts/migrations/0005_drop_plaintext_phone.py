"""Phones encrypted at rest, step 3 of 3: drop the plaintext columns; the encrypted one takes
the name `phone`, the blind index becomes unique."""

from django.db import migrations, models

import sizhi.accounts.models
import sizhi.privacy.fields


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_encrypt_existing_phones")]

    operations = [
        migrations.RemoveField(model_name="user", name="phone"),
        migrations.RemoveField(model_name="verificationcode", name="phone"),
        migrations.RenameField(model_name="user", old_name="phone_encrypted", new_name="phone"),
        migrations.AlterField(
            model_name="user",
            name="phone",
            field=sizhi.privacy.fields.EncryptedTextField(blank=True, null=True, verbose_name="手机号"),
        ),
        migrations.AlterField(
            model_name="user",
            name="phone_index",
            field=models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True),
        ),
        migrations.AlterModelManagers(name="user", managers=[("objects", sizhi.accounts.models.UserManager())]),
    ]
