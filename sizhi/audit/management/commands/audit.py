"""`sizhi audit verify` checks the whole hash chain; `sizhi audit head` prints its end.

Retention: the application never deletes or updates audit records (on PostgreSQL a trigger
refuses it), so the log is kept for as long as the database is: at least the 6 months MLPS
level 3 requires. Archive old records with a database backup, never by deleting rows.
"""

from __future__ import annotations

import re
import sys
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from tqdm import tqdm

from sizhi.audit import chain

ANCHOR_RE = re.compile(r"^(\d+):([0-9a-fA-F]{64})$")


class Command(BaseCommand):
    help = (
        "Audit trail. `verify`: walk the whole hash chain and exit non-zero on an altered, inserted "
        "or missing record or a cut-off tail. `head`: print the last sequence number and hash, to "
        "note down outside the database as an anchor for later `verify --anchor`. Records are "
        "append-only and never deleted by the application (retention ≥ 6 months: keep them, archive "
        "by database backup)."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="check every record and link of the chain")
        verify.add_argument("--batch", type=int, default=chain.BATCH, help="records read per query")
        verify.add_argument(
            "--anchor", action="append", default=[], metavar="SEQ:HASH",
            help="a (sequence, hash) pair noted down earlier with `audit head`; may be repeated",
        )
        verify.add_argument("--no-progress", action="store_true", help="no progress bar")
        sub.add_parser("head", help="print the last sequence number and hash")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "head":
            seq, last_hash = chain.head()
            self.stdout.write(f"{seq}:{last_hash}")
            return
        self._verify(options)

    def _verify(self, options: dict[str, Any]) -> None:
        anchors: list[tuple[int, str]] = []
        for text in options["anchor"]:
            found = ANCHOR_RE.match(text.strip())
            if not found:
                message = _("--anchor 的格式应为 序号:哈希（64 位十六进制），而不是 %(value)r")
                raise CommandError(message % {"value": text})
            anchors.append((int(found.group(1)), found.group(2)))
        if options["batch"] < 1:
            raise CommandError(_("--batch 至少为 1"))

        total, _hash = chain.head()
        show = not options["no_progress"] and options["verbosity"] > 0
        with tqdm(total=total, unit="rec", disable=not show, file=sys.stderr) as bar:
            def step(done: int) -> None:
                bar.update(done)

            report = chain.verify_chain(step, batch=options["batch"])
        for seq, expected in anchors:
            problem = chain.check_anchor(seq, expected)
            if problem:
                report.add(problem)

        span = f"{report.first_seq}–{report.last_seq}" if report.records else "—"
        self.stdout.write(
            _("审计链：%(records)s 条记录（序号 %(span)s），链头 %(head)s，核对锚点 %(anchors)s 个") % {
                "records": report.records, "span": span, "head": report.head_seq, "anchors": len(anchors),
            }
        )
        if report.ok:
            self.stdout.write(self.style.SUCCESS(_("通过：每条记录、每个链接和链头都一致")))
            return
        for problem in report.problems:
            self.stdout.write(self.style.ERROR(f"  - {problem}"))
        hidden = report.problem_count - len(report.problems)
        if hidden:
            self.stdout.write(self.style.ERROR("  … " + _("另有 %(n)s 个问题") % {"n": hidden}))
        raise CommandError(
            ngettext("审计链校验未通过：%(n)s 个问题", "审计链校验未通过：%(n)s 个问题", report.problem_count)
            % {"n": report.problem_count}
        )
