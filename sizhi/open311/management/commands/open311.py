"""`sizhi open311 …`: issue, revoke and list the API keys of Open311 integrations."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from sizhi.open311.models import Open311Client
from sizhi.open311.services import ClientError, client_create, client_revoke


class Command(BaseCommand):
    help = _("Open311 接入方：签发、吊销、列出 API 密钥")

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create-client", help=_("新建接入方并签发密钥（密钥只显示这一次）"))
        create.add_argument("name", help=_("接入方名称，如“12345 热线系统”"))
        revoke = sub.add_parser("revoke-client", help=_("吊销接入方的密钥，之后它不能再提交"))
        revoke.add_argument("name", help=_("接入方名称"))
        sub.add_parser("list-clients", help=_("列出接入方（不显示密钥）"))

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create-client":
            try:
                client, key = client_create(name=options["name"])
            except ClientError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                _("已创建接入方“%(name)s”。API 密钥（只显示这一次，请立即妥善保存）：") % {"name": client.name}
            )
            self.stdout.write(key)
        elif action == "revoke-client":
            found = Open311Client.objects.filter(name=options["name"]).first()
            if found is None:
                raise CommandError(_("没有名为“%(name)s”的接入方。") % {"name": options["name"]})
            client_revoke(client=found)
            self.stdout.write(_("已吊销接入方“%(name)s”的密钥。") % {"name": found.name})
        else:
            for client in Open311Client.objects.all():
                state = _("启用") if client.is_active else _("已吊销")
                self.stdout.write(f"{client.name}\t{client.key_prefix}…\t{state}\t{client.created_at:%Y-%m-%d %H:%M}")
