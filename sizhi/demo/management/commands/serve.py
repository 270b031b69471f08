"""`sizhi serve`: the web server and the background worker together, for `make run` and demos.

Production runs the two as separate services instead (gunicorn `sizhi.config.wsgi` and
`sizhi run_huey`, see docs/deployment.md)."""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sizhi.demo.launcher import Launcher, port_open
from sizhi.demo.loader import demo_loaded
from sizhi.demo.people import logins_table

DEFAULT_ADDRESS = "127.0.0.1:8000"


def _split_address(address: str) -> tuple[str, int]:
    host, _sep, port = address.rpartition(":")
    if not port.isdigit():
        raise CommandError(f"地址应为 主机:端口，如 {DEFAULT_ADDRESS}")
    return host or "127.0.0.1", int(port)


class Command(BaseCommand):
    help = "同时启动网页服务（runserver）和后台任务进程（huey），Ctrl-C 一并停止；任一进程退出则全部退出"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("address", nargs="?", default=DEFAULT_ADDRESS, help=f"监听地址（默认 {DEFAULT_ADDRESS}）")
        parser.add_argument("--noreload", action="store_true", help="代码改动后不自动重启网页服务")
        parser.add_argument("--no-worker", action="store_true", help="不启动后台任务进程")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = _split_address(options["address"])
        if port_open(host if host not in ("0.0.0.0", "::") else "127.0.0.1", port):  # noqa: S104
            raise CommandError(f"端口 {port} 已被占用：是否已有一个 sizhi serve 在运行？")
        if not settings.DEBUG:
            self.stderr.write(self.style.WARNING(
                "SIZHI_DEBUG 未开启：runserver 不提供静态文件，请先运行 sizhi collectstatic；生产环境请用 gunicorn。"
            ))
        manage = [sys.executable, "-m", "sizhi.manage"]
        web = [*manage, "runserver", f"{host}:{port}"]
        if options["noreload"]:
            web.append("--noreload")
        children = [("网页服务", web)]
        if not options["no_worker"]:
            children.append(("后台任务", [*manage, "run_huey"]))
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}
        url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
        url = f"http://{url_host}:{port}/"
        show_logins = demo_loaded()

        def announce() -> None:
            lines = ["", "=" * 72, f"四治 Sizhi 已启动：{url}"]
            if not options["no_worker"]:
                lines.append(f"后台任务进程：huey（{settings.HUEY['huey_class']}）")
            if show_logins:
                lines += ["示例账号：", logins_table()]
            lines += ["按 Ctrl-C 停止网页服务和后台任务。", "=" * 72, ""]
            self.stdout.write("\n".join(lines))
            self.stdout.flush()

        launcher = Launcher(
            children, out=self.stdout, env=env, ready=lambda: port_open(url_host, port), on_ready=announce
        )
        code = launcher.run()
        if code:
            raise CommandError("有进程意外退出，已全部停止。", returncode=code)
