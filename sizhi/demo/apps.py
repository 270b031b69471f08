from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "sizhi.demo"
    label = "demo"
    verbose_name = "示例数据"
