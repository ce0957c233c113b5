# SPDX-License-Identifier: Apache-2.0
"""A private PostgreSQL cluster made by tests/integration/pg.sh, seen from a
test: its env file, a database per part, counts and SQL through psycopg2
(Debian's python3-psycopg2). Used by integration.pg and integration.collectors."""
import subprocess

import psycopg2

from tap import SLOW


def read_env(path):
    return dict(line.rstrip("\n").split("=", 1) for line in open(path) if "=" in line)


class Pg:
    """A pg.sh cluster: its env, a database per part."""

    def __init__(self, pg_sh, env_file):
        self.pg_sh = pg_sh
        self.env = read_env(env_file)
        self.dir = self.env["OSP_PG_DIR"]

    def url(self, db, scheme="postgresql"):
        return self.env["OSP_PG_URL"].replace("postgresql:", scheme + ":").rsplit("/", 1)[0] \
            + "/" + db

    def socket_url(self, db):
        return self.env["OSP_PG_SOCKET_URL"].replace("/osprofiler?", "/%s?" % db)

    def password(self):
        return self.env["OSP_PG_URL"].split(":")[2].split("@")[0]

    def connect(self, db="osprofiler"):
        c = psycopg2.connect(host="127.0.0.1", port=int(self.env["OSP_PG_PORT"]), user="osp",
                             password=self.password(), dbname=db, connect_timeout=5)
        c.autocommit = True
        return c

    def create_db(self, db):
        c = self.connect()
        try:
            with c.cursor() as cur:
                cur.execute("DROP DATABASE IF EXISTS %s" % db)
                cur.execute("CREATE DATABASE %s" % db)
        finally:
            c.close()

    def sql(self, db, q, *args):
        try:
            c = self.connect(db)
        except psycopg2.Error:
            return None
        try:
            with c.cursor() as cur:
                cur.execute(q, args)
                return cur.fetchall()
        except psycopg2.Error:
            return None
        finally:
            c.close()

    def rows(self, db, base_id=None):
        r = self.sql(db, "SELECT count(*) FROM data" +
                     (" WHERE base_id = %s" if base_id else ""), *([base_id] if base_id else []))
        return r[0][0] if r else -1

    def ctl(self, verb):
        return subprocess.run([self.pg_sh, verb, self.dir], capture_output=True, text=True,
                              timeout=120 * SLOW)
