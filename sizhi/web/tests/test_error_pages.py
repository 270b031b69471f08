"""Error pages in plain Chinese, without stack traces or internals."""

from __future__ import annotations

from django.test import Client


def test_404_page_is_chinese_and_plain(db: None, client: Client) -> None:
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "页面不存在" in html
    assert "Traceback" not in html
    assert "urlpatterns" not in html


def test_csrf_failure_page_is_chinese(db: None) -> None:
    response = Client(enforce_csrf_checks=True).post("/track/", {"code": "x"})

    assert response.status_code == 403
    assert "页面已过期" in response.content.decode()
