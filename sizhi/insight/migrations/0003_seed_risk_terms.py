"""Seed the risk lexicon (高风险词库) from sizhi.insight.lexicon. Existing rows are left as staff
set them; reversing removes nothing (the words may have been edited since)."""

from django.db import migrations


def seed(apps, schema_editor):
    from sizhi.insight.lexicon import DEFAULT_LEXICON

    RiskTerm = apps.get_model("insight", "RiskTerm")
    existing = set(RiskTerm.objects.values_list("term", flat=True))
    RiskTerm.objects.bulk_create(
        [RiskTerm(term=term, kind=kind, weight=weight) for term, kind, weight in DEFAULT_LEXICON if term not in existing]
    )


class Migration(migrations.Migration):

    dependencies = [
        ("insight", "0002_alerts_briefings"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
