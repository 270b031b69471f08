"""Database and Redis housekeeping for the production profile (scripts/serve_prod.sh,
scripts/prod_smoke.sh, bench/intake.py).

    python scripts/prod_db.py create        # CREATE DATABASE named in DATABASE_URL unless it exists
    python scripts/prod_db.py drop          # DROP DATABASE … WITH (FORCE)
    python scripts/prod_db.py redis-clean   # delete the keys of SIZHI_REDIS_PREFIX in REDIS_URL's db

Only PostgreSQL URLs are touched; anything else is left to `migrate`.
"""

from __future__ import annotations

import os
import sys

import dj_database_url
import psycopg
from psycopg import sql


def _admin_connection() -> tuple[psycopg.Connection, str]:
    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    if "postgresql" not in config["ENGINE"]:
        raise SystemExit(0)
    name = str(config["NAME"])
    conn = psycopg.connect(
        dbname="postgres", host=config.get("HOST") or None, port=config.get("PORT") or None,
        user=config.get("USER") or None, password=config.get("PASSWORD") or None, autocommit=True,
    )
    return conn, name


def create() -> None:
    conn, name = _admin_connection()
    with conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"[serve-prod] created database {name}", file=sys.stderr)


def drop() -> None:
    conn, name = _admin_connection()
    with conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def redis_clean() -> None:
    import redis

    prefix = os.environ.get("SIZHI_REDIS_PREFIX", "sizhi")
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    # The cache's keys start with the prefix; huey's queue, schedule and results contain it.
    keys = [key for key in client.scan_iter(match=f"*{prefix}*", count=1000)]
    if keys:
        client.delete(*keys)


def main() -> None:
    actions = {"create": create, "drop": drop, "redis-clean": redis_clean}
    if len(sys.argv) != 2 or sys.argv[1] not in actions:
        raise SystemExit(f"usage: {sys.argv[0]} {{{'|'.join(actions)}}}")
    actions[sys.argv[1]]()


if __name__ == "__main__":
    main()
