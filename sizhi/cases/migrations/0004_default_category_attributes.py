"""A few further questions for default categories. The data is written here, not read from a
file, so that this migration does the same thing whenever it runs."""

from django.db import migrations

# category code -> [(code, datatype, required, variable, description, values)]
ATTRIBUTES = {
    "roads-damage": [
        ("severity", "singlevaluelist", True, True, "损坏程度", [
            {"key": "minor", "name": "轻微：裂缝、小坑"},
            {"key": "moderate", "name": "较重：坑槽、沉陷"},
            {"key": "severe", "name": "严重：塌陷、已影响通行"},
        ]),
        ("affected", "multivaluelist", False, True, "影响到哪些通行（可多选）", [
            {"key": "motor", "name": "机动车"},
            {"key": "non-motor", "name": "非机动车"},
            {"key": "pedestrian", "name": "行人"},
        ]),
    ],
    "roads-streetlight": [
        ("lamp-fault", "singlevaluelist", True, True, "路灯故障情况", [
            {"key": "off", "name": "不亮"},
            {"key": "flicker", "name": "闪烁"},
            {"key": "day-on", "name": "白天常亮"},
            {"key": "pole-damaged", "name": "灯杆倾斜或损坏"},
        ]),
        ("lamp-number", "string", False, True, "灯杆编号（杆身上喷印的编号，没有可不填）", []),
    ],
    "water-supply": [
        ("households", "number", False, True, "停水户数（大约多少户）", []),
        ("outage-since", "datetime", False, True, "从什么时候开始停水", []),
    ],
    "environment-noise": [
        ("noise-period", "multivaluelist", True, True, "噪声出现的时段（可多选）", [
            {"key": "day", "name": "白天（6:00—22:00）"},
            {"key": "night", "name": "夜间（22:00—次日 6:00）"},
        ]),
    ],
    "security-fire": [
        ("emergency-notice", "string", False, False, "正在发生的火情请立即拨打 119，本平台不受理紧急求助。", []),
    ],
}


def load(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    CategoryAttribute = apps.get_model("cases", "CategoryAttribute")
    for category_code, rows in ATTRIBUTES.items():
        category = Category.objects.filter(code=category_code).first()
        if category is None:
            continue
        for order, (code, datatype, required, variable, description, values) in enumerate(rows, start=1):
            CategoryAttribute.objects.get_or_create(
                category=category, code=code,
                defaults={
                    "datatype": datatype, "required": required, "variable": variable, "order": order,
                    "description": description, "values": values,
                },
            )


def unload(apps, schema_editor):
    CategoryAttribute = apps.get_model("cases", "CategoryAttribute")
    for category_code, rows in ATTRIBUTES.items():
        CategoryAttribute.objects.filter(
            category__code=category_code, code__in=[row[0] for row in rows]
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0003_category_attributes")]
    operations = [migrations.RunPython(load, unload)]
