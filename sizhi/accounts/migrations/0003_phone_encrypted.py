"""Phones encrypted at rest, step 1 of 3: the new columns next to the old ones."""

from django.db import migrations, models

import sizhi.privacy.fields


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_initial")]

    operations = [
        migrations.AddField(
            model_name="user",
            name="phone_encrypted",
            field=sizhi.privacy.fields.EncryptedTextField(blank=True, null=True, context="accounts.user.phone"),
        ),
        migrations.AddField(
            model_name="user",
            name="phone_index",
            field=models.CharField(blank=True, editable=False, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="verificationcode",
            name="phone_index",
            field=models.CharField(db_index=True, default="", max_length=64),
            preserve_default=False,
        ),
    ]
