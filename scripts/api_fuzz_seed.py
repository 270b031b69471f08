"""Seed a throw-away database for scripts/api_fuzz.sh: the small test world (a slice of 洛阳 with
every staff role), a few cases in different states, and one API token of the city dispatcher.

Prints the token on the first line, then a Schemathesis config that points path and query
parameters at rows that exist, so that generated requests reach the services instead of
stopping at 404."""

from __future__ import annotations

import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sizhi.config.settings")
    django.setup()

    from sizhi.api.services import api_token_create
    from sizhi.cases import services
    from sizhi.conftest import build_world, inside

    world = build_world()
    town = world.user("town_dispatcher")
    lat, lng = inside(world.grid_a1)
    cases = []
    for step in range(4):
        case = services.report_submit(
            reporter=world.user("citizen"), description=f"金业路路口井盖缺失，第 {step + 1} 处", lat=lat, lng=lng
        )
        if step >= 1:
            services.case_accept(case=case, actor=town)
        if step >= 2:
            services.case_register(case=case, actor=town, category=world.category)
        if step >= 3:
            services.case_dispatch(case=case, actor=town, unit=world.village_a1_committee)
        cases.append(case)
    _token, secret = api_token_create(user=world.user("city_dispatcher"), name="api fuzz")
    config = f"""
[parameters]
"path.case_id" = {cases[0].pk}
"path.code" = "{world.village_a1.code}"
"query.region" = "{world.district_a.code}"
"query.lat" = {lat}
"query.lng" = {lng}
"""
    sys.stdout.write(secret + "\n" + config)


if __name__ == "__main__":
    main()
