"""Staff workbench (工作台). Work in progress: every view answers 404 until it is built."""

from django.http import Http404, HttpRequest, HttpResponse


def queue(request: HttpRequest) -> HttpResponse:
    raise Http404


def case_list(request: HttpRequest) -> HttpResponse:
    raise Http404


def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    raise Http404


def case_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    raise Http404


def case_photo(request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
    raise Http404
