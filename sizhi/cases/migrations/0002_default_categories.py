import json
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data" / "default_categories.json"


def load(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    for order, top in enumerate(json.loads(DATA.read_text(encoding="utf-8")), start=1):
        parent, _ = Category.objects.get_or_create(code=top["code"], defaults={"name": top["name"], "order": order})
        for child_order, (code, name) in enumerate(top["children"], start=1):
            Category.objects.get_or_create(code=code, defaults={"name": name, "parent": parent, "order": child_order})


def unload(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    codes = []
    for top in json.loads(DATA.read_text(encoding="utf-8")):
        codes.append(top["code"])
        codes.extend(code for code, _ in top["children"])
    Category.objects.filter(code__in=codes, parent__isnull=False, cases__isnull=True).delete()
    Category.objects.filter(code__in=codes, parent__isnull=True, children__isnull=True, cases__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
