"""Seed the production-profile smoke test (scripts/prod_smoke.sh): the small test world (a slice
of 洛阳 with every staff role) and API tokens for the staff who take one case through its life.
Staff sign-in on the web needs TOTP; programs use personal tokens, which is what the smoke test
does. Prints one JSON object: tokens, ids and a point inside a grid."""

from __future__ import annotations

import json
import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sizhi.config.settings")
    django.setup()

    from django.db import transaction

    from sizhi.api.services import api_token_create
    from sizhi.conftest import build_world, inside

    with transaction.atomic():
        world = build_world()
        tokens = {
            name: api_token_create(user=world.user(name), name="prod smoke")[1]
            for name in ("citizen", "town_dispatcher", "village_cadre")
        }
    lat, lng = inside(world.grid_a1)
    sys.stdout.write(json.dumps({
        "tokens": tokens,
        "category": world.category.pk,
        "unit": world.village_a1_committee.pk,
        "unit_members": [world.user("village_cadre").pk, world.user("party_secretary").pk,
                         world.user("grid_worker").pk],
        "lat": lat,
        "lng": lng,
    }) + "\n")


if __name__ == "__main__":
    main()
