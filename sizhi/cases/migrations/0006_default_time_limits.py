from decimal import Decimal

from django.db import migrations

# (category code or None for the default, priority, sign-for working hours, handling working days)
LIMITS = [
    (None, "normal", Decimal("4"), 5),
    (None, "urgent", Decimal("2"), 2),
    (None, "emergency", Decimal("1"), 1),
    ("dispute", "normal", Decimal("8"), 15),
    ("assistance", "normal", Decimal("8"), 10),
    ("security", "urgent", Decimal("1"), 1),
]


def load(apps, schema_editor):
    TimeLimit = apps.get_model("cases", "TimeLimit")
    Category = apps.get_model("cases", "Category")
    for code, priority, hours, days in LIMITS:
        category = Category.objects.filter(code=code).first() if code else None
        if code and category is None:
            continue
        TimeLimit.objects.get_or_create(
            category=category, priority=priority, defaults={"sign_hours": hours, "handle_days": days}
        )


def unload(apps, schema_editor):
    apps.get_model("cases", "TimeLimit").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_command_clock")]
    operations = [migrations.RunPython(load, unload)]
