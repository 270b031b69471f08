from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("accounts/2fa/", include("sizhi.security.urls")),
    path("accounts/", include("sizhi.accounts.urls")),
    path("console/command/", include("sizhi.cases.urls_command")),
    path("console/insight/", include("sizhi.insight.urls")),
    path("console/settings/", include("sizhi.settingsui.urls")),
    path("console/alerts/", include("sizhi.insight.urls_alerts")),
    path("console/audit/", include("sizhi.audit.urls")),
    path("console/residents/", include("sizhi.privacy.urls")),
    path("console/system/", include("sizhi.security.urls_system")),
    path("console/security/", include("sizhi.security.urls_policy")),
    path("console/", include("sizhi.cases.urls")),
    path("open311/v2/", include("sizhi.open311.urls")),
    path("api/v1/", include("sizhi.api.urls")),
    path("account/tokens/", include("sizhi.api.token_urls")),
    path("inbox/", include("sizhi.notify.urls")),
    path("mailbox/", include("sizhi.mailbox.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("sizhi.web.urls")),
]

if settings.SIZHI_BENCH_FLOOR:  # bench/intake.py only
    urlpatterns.insert(0, path("bench/floor/", include("sizhi.benchfloor.urls")))
# No /media/ route, not even with DEBUG on: uploads are served only by views that check who asks.
