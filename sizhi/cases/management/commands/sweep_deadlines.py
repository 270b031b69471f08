from typing import Any

from django.core.management.base import BaseCommand

from sizhi.cases.deadlines import sweep_warnings


class Command(BaseCommand):
    help = "Raise yellow and red deadline warnings on open cases now (the worker does this every minute)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = sweep_warnings()
        self.stdout.write(f"yellow={result.yellow} red={result.red}")
