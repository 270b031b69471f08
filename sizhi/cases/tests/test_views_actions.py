"""The action endpoint (cases:act): each form parses into one service call; refusals come back as
a message with the error's status (409 transition/conflict, 403 permission, 400 validation),
never a 500, and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from sizhi.cases import services
from sizhi.cases.errors import CaseConflict
from sizhi.cases.models import Case, Category
from sizhi.cases.workflow import CaseAction, CaseStatus, RejectionKind
from sizhi.conftest import World, inside, make_photo
from sizhi.units.models import HandlingUnit, UnitKind

A = CaseAction
S = CaseStatus


def submit(world: World, *, grid=None, description: str = "金业路路口井盖缺失，夜间很危险") -> Case:
    lat, lng = inside(grid or world.grid_a1)
    return services.report_submit(reporter=None, description=description, lat=lat, lng=lng, is_anonymous=True)


def advance(world: World, case: Case, to: str) -> Case:
    """Move a case along the ordinary path through the services, as the right people."""
    u = world.user
    steps: dict[str, Callable[[], object]] = {
        S.REPORTED: lambda: services.case_accept(case=case, actor=u("town_dispatcher")),
        S.ACCEPTED: lambda: services.case_register(case=case, actor=u("town_dispatcher"), category=world.category),
        S.REGISTERED: lambda: services.case_dispatch(
            case=case, actor=u("town_dispatcher"), unit=world.village_a1_committee
        ),
        S.DISPATCHED: lambda: services.case_sign_for(case=case, actor=u("village_cadre")),
        S.HANDLING: lambda: services.case_handle(case=case, actor=u("village_cadre"), result="已补装井盖"),
        S.VERIFYING: lambda: services.case_verify(case=case, actor=u("grid_worker"), passed=True),
        S.VERIFIED: lambda: services.case_close(case=case, actor=u("town_dispatcher")),
    }
    while case.status != to:
        steps[case.status]()
    return case


def post(client: Client, world: World, who: str, case: Case, action: str, data: dict | None = None):
    client.force_login(world.user(who))
    return client.post(reverse("cases:act", args=[case.pk, action]), data or {})


def unchanged(case: Case) -> bool:
    before = (case.status, case.version, case.events.count())
    fresh = Case.objects.get(pk=case.pk)
    return (fresh.status, fresh.version, fresh.events.count()) == before


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "who"),
    [
        (S.REPORTED, A.CLOSE, "town_dispatcher"),
        (S.REPORTED, A.DISPATCH, "town_dispatcher"),
        (S.CLOSED, A.ACCEPT, "town_dispatcher"),
        (S.HANDLING, A.SIGN_FOR, "village_cadre"),
        (S.VERIFIED, A.VERIFY_FAIL, "grid_worker"),
    ],
)
def test_action_not_allowed_in_the_status_answers_409_with_the_stable_message(
    world: World, client: Client, status: str, action: str, who: str
) -> None:
    case = advance(world, submit(world), status)
    response = post(client, world, who, case, action, {"reason": "理由", "unit": world.village_a1_committee.pk})
    assert response.status_code == 409
    html = response.content.decode()
    label = CaseAction(action).label
    assert f"当前状态下不能执行“{label}”。" in html
    assert f'data-error-code="case_{action}_not_allowed"' in html
    assert unchanged(case)


def test_action_by_someone_not_entitled_answers_403_and_changes_nothing(world: World, client: Client) -> None:
    case = submit(world)
    # The grid worker sees the case (his grid) but intake is the dispatcher's job.
    response = post(client, world, "grid_worker", case, A.ACCEPT)
    assert response.status_code == 403
    assert 'data-error-code="case_permission_denied"' in response.content.decode()
    assert unchanged(case)


def test_unknown_action_answers_404_and_get_is_not_allowed(world: World, client: Client) -> None:
    case = submit(world)
    for action in ("delete", "rate", "reopen", "submit", "verify"):
        assert post(client, world, "town_dispatcher", case, action).status_code == 404
    assert client.get(reverse("cases:act", args=[case.pk, A.ACCEPT])).status_code == 405
    assert unchanged(case)


def test_someone_else_acting_first_answers_409_conflict_and_shows_the_case_as_it_is_now(
    world: World, client: Client
) -> None:
    case = submit(world)
    real_accept = services.case_accept

    def accepted_by_someone_else_first(**kwargs: object) -> None:
        # The district dispatcher wins the race; this request's conditional update then fails.
        real_accept(case=Case.objects.get(pk=case.pk), actor=world.user("district_dispatcher"))
        raise CaseConflict()

    with mock.patch.object(services, "case_accept", side_effect=accepted_by_someone_else_first):
        response = post(client, world, "town_dispatcher", case, A.ACCEPT, {"reason": "受理"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "该案件刚刚已被他人处理，请刷新后重试。" in html
    assert 'data-error-code="case_conflict"' in html
    assert 'data-status="accepted"' in html
    assert "action-form-accept" not in html and 'data-testid="action-form-register"' in html
    assert list(case.events.values_list("action", "actor__username")) == [
        (A.SUBMIT, None), (A.ACCEPT, "district_dispatcher"),
    ]


def test_forged_fields_are_ignored(world: World, client: Client) -> None:
    case = submit(world)
    response = post(
        client, world, "town_dispatcher", case, A.ACCEPT,
        {"status": S.CLOSED, "assigned_unit": world.town_b_centre.pk, "region": world.village_b1.pk,
         "reporter": world.user("citizen").pk, "version": 99},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.ACCEPTED
    assert case.assigned_unit is None and case.region == world.village_a1 and case.reporter is None


# --- reject --------------------------------------------------------------------------------------


def test_reject_needs_a_reason(world: World, client: Client) -> None:
    case = submit(world)
    response = post(client, world, "town_dispatcher", case, A.REJECT, {"kind": RejectionKind.INVALID, "reason": " "})
    assert response.status_code == 400
    assert 'data-testid="reject-error-reason"' in response.content.decode()
    assert unchanged(case)


def test_reject_as_duplicate_of_a_case_in_scope(world: World, client: Client) -> None:
    original = submit(world)
    case = submit(world, description="金业路井盖又被报了一次")
    response = post(
        client, world, "town_dispatcher", case, A.REJECT,
        {"kind": RejectionKind.DUPLICATE, "reason": "已有相同反映", "duplicate_of": f"  {original.number} "},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.REJECTED
    assert case.duplicate_of == original
    last = case.events.last()
    assert last is not None and last.data["duplicate_of"] == original.number


@pytest.mark.parametrize("number", ["outside", "LY2099010100000000"])
def test_reject_duplicate_of_a_case_outside_scope_is_a_field_error_like_a_missing_one(
    world: World, client: Client, number: str
) -> None:
    outside = submit(world, grid=world.grid_b1)
    case = submit(world)
    typed = outside.number if number == "outside" else number
    response = post(
        client, world, "town_dispatcher", case, A.REJECT,
        {"kind": RejectionKind.DUPLICATE, "reason": "已有相同反映", "duplicate_of": typed},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-testid="reject-error-duplicate_of"' in html
    assert f"找不到编号为 {typed} 的案件。" in html
    assert "唐宫路" not in html
    assert unchanged(case)


def test_reject_duplicate_without_a_number_shows_the_service_error_on_the_field(
    world: World, client: Client
) -> None:
    case = submit(world)
    response = post(
        client, world, "town_dispatcher", case, A.REJECT, {"kind": RejectionKind.DUPLICATE, "reason": "重复"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-error-code="duplicate_of_required"' in html
    assert 'data-testid="reject-error-duplicate_of"' in html
    assert "重复" in html  # the typed reason is kept in the form
    assert unchanged(case)


# --- register and dispatch -----------------------------------------------------------------------


def test_register_offers_active_categories_in_two_levels(world: World, client: Client) -> None:
    case = advance(world, submit(world), S.ACCEPTED)
    retired = Category.objects.get(code="roads-bridge")
    retired.is_active = False
    retired.save()
    client.force_login(world.user("town_dispatcher"))
    html = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert '<optgroup label="道路桥梁">' in html
    assert f'value="{world.category.pk}"' in html
    assert f'value="{retired.pk}"' not in html
    response = post(client, world, "town_dispatcher", case, A.REGISTER, {"category": retired.pk})
    assert response.status_code == 400
    assert unchanged(case)
    response = post(client, world, "town_dispatcher", case, A.REGISTER, {"category": world.category.pk})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.REGISTERED and case.category == world.category


def _offered_units(client: Client, case: Case) -> set[int]:
    form = client.get(reverse("cases:detail", args=[case.pk])).context["panels"]["dispatch"]
    return set(form.fields["unit"].queryset.values_list("pk", flat=True))


def test_dispatch_offers_active_units_containing_the_case_within_the_dispatcher_scope(
    world: World, client: Client
) -> None:
    case = advance(world, submit(world), S.REGISTERED)
    HandlingUnit.objects.create(
        name="停用的居委会", kind=UnitKind.VILLAGE_COMMITTEE, region=world.village_a1, is_active=False
    )
    client.force_login(world.user("town_dispatcher"))
    assert _offered_units(client, case) == {world.town_a_centre.pk, world.village_a1_committee.pk}
    client.force_login(world.user("district_dispatcher"))
    assert _offered_units(client, case) == {
        world.district_a_centre.pk, world.district_a_dept.pk, world.town_a_centre.pk, world.village_a1_committee.pk,
    }
    client.force_login(world.user("city_dispatcher"))
    assert world.city_centre.pk in _offered_units(client, case)
    assert world.town_b_centre.pk not in _offered_units(client, case)


def test_dispatch_to_a_forged_unit_outside_scope_is_refused(world: World, client: Client) -> None:
    case = advance(world, submit(world), S.REGISTERED)
    for unit in (world.town_b_centre, world.district_a_dept):
        response = post(client, world, "town_dispatcher", case, A.DISPATCH, {"unit": unit.pk})
        assert response.status_code == 400
        assert 'data-testid="dispatch-error-unit"' in response.content.decode()
    assert unchanged(case)


# --- return, handle, verify ----------------------------------------------------------------------


def test_return_needs_a_reason_and_sends_the_case_back_to_dispatch(world: World, client: Client) -> None:
    case = advance(world, submit(world), S.DISPATCHED)
    assert post(client, world, "village_cadre", case, A.RETURN, {"reason": ""}).status_code == 400
    assert unchanged(case)
    response = post(client, world, "village_cadre", case, A.RETURN, {"reason": "不属于社区职责，应由城管处理"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.REGISTERED and case.assigned_unit is None


def test_handle_needs_a_result(world: World, client: Client) -> None:
    case = advance(world, submit(world), S.HANDLING)
    response = post(client, world, "village_cadre", case, A.HANDLE, {"result": ""})
    assert response.status_code == 400
    assert 'data-testid="handle-error-result"' in response.content.decode()
    assert unchanged(case)


def test_handle_refuses_more_than_nine_photos(world: World, client: Client) -> None:
    case = advance(world, submit(world), S.HANDLING)
    photos = [make_photo(name=f"{i}.jpg") for i in range(10)]
    response = post(client, world, "village_cadre", case, A.HANDLE, {"result": "已处理", "photos": photos})
    assert response.status_code == 400
    assert "最多上传 9 张照片" in response.content.decode()
    assert unchanged(case)


def test_handle_refuses_a_file_that_is_not_an_image(world: World, client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = advance(world, submit(world), S.HANDLING)
    fake = SimpleUploadedFile("photo.jpg", b"<html><script>alert(1)</script></html>", content_type="image/jpeg")
    response = post(client, world, "village_cadre", case, A.HANDLE, {"result": "已处理", "photos": [fake]})
    assert response.status_code == 400
    assert 'data-error-code="photo_unreadable"' in response.content.decode()
    assert unchanged(case)
    assert not case.attachments.exists()


def test_verify_fail_needs_a_reason_and_sends_the_case_back_for_rework(world: World, client: Client) -> None:
    case = advance(world, submit(world), S.VERIFYING)
    response = post(client, world, "grid_worker", case, A.VERIFY_FAIL, {"reason": ""})
    assert response.status_code == 400
    assert 'data-testid="verify-error-reason"' in response.content.decode()
    assert unchanged(case)
    response = post(client, world, "grid_worker", case, A.VERIFY_FAIL, {"reason": "井盖尺寸不符，仍有缝隙"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.HANDLING
    last = case.events.last()
    assert last is not None and last.reason == "井盖尺寸不符，仍有缝隙"


def test_handler_cannot_verify_his_own_work(world: World, client: Client) -> None:
    case = advance(world, submit(world), S.HANDLING)
    # The town dispatcher may verify, but not after handling the case himself.
    client.force_login(world.user("town_dispatcher"))
    services.case_handle(case=case, actor=world.user("village_cadre"), result="已处理")
    html = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert 'data-testid="action-submit-verify_pass"' in html
    client.force_login(world.user("village_cadre"))
    html = client.get(reverse("cases:detail", args=[case.pk])).content.decode()
    assert "action-form-verify" not in html
    assert post(client, world, "village_cadre", case, A.VERIFY_PASS).status_code == 403
    assert unchanged(case)


def test_success_redirects_to_the_queue_when_the_case_leaves_the_user_sight(world: World, client: Client) -> None:
    from sizhi.accounts.models import Membership, Role, User

    # A member of a city-wide department whose own scope is another district sees the case only
    # while it is assigned to his unit; after returning it, its detail page would be a 404.
    department = HandlingUnit.objects.create(name="市住建局", kind=UnitKind.DEPARTMENT, region=world.city)
    handler = User.objects.create_user(username="city_dept_handler", password="x-Sizhi-2026")
    Membership.objects.create(user=handler, role=Role.DEPARTMENT_HANDLER, unit=department, scope=world.district_b)
    world.users["city_dept_handler"] = handler
    case = advance(world, submit(world), S.REGISTERED)
    services.case_dispatch(case=case, actor=world.user("city_dispatcher"), unit=department)

    response = post(client, world, "city_dept_handler", case, A.RETURN, {"reason": "应由区级处理"})
    assert response.status_code == 302 and response["Location"] == reverse("cases:queue")
    assert client.get(reverse("cases:detail", args=[case.pk])).status_code == 404
    assert "已退回" in client.get(response["Location"]).content.decode()
