# SPDX-License-Identifier: Apache-2.0
"""A private MariaDB server made by tests/integration/mysql.sh, seen from a
test: its env file, a database per part, counts and SQL through pymysql
(Debian's python3-pymysql). Used by integration.mysql and
integration.collectors."""
import subprocess

import pymysql

from tap import SLOW


def read_env(path):
    return dict(line.rstrip("\n").split("=", 1) for line in open(path) if "=" in line)


class My:
    """A mysql.sh server: its env, a database per part."""

    def __init__(self, mysql_sh, env_file):
        self.mysql_sh = mysql_sh
        self.env = read_env(env_file)
        self.dir = self.env["OSP_MYSQL_DIR"]

    def url(self, db, scheme="mysql+pymysql"):
        return self.env["OSP_MYSQL_URL"].replace("mysql+pymysql:", scheme + ":").rsplit(
            "/", 1)[0] + "/" + db

    def socket_url(self, db, scheme="mysql+pymysql"):
        """Over the Unix socket as SQLAlchemy takes it (?unix_socket=PATH)."""
        return "%s://osp:%s@localhost/%s?unix_socket=%s&charset=utf8mb4" % (
            scheme, self.password(), db, self.env["OSP_MYSQL_SOCKET"])

    def password(self):
        return self.env["OSP_MYSQL_URL"].split(":")[2].split("@")[0]

    def connect(self, db="osprofiler"):
        return pymysql.connect(host="127.0.0.1", port=int(self.env["OSP_MYSQL_PORT"]),
                               user="osp", password=self.password(), database=db,
                               connect_timeout=5, autocommit=True, charset="utf8mb4")

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
        except pymysql.Error:
            return None
        try:
            with c.cursor() as cur:
                cur.execute(q, args or None)
                return cur.fetchall()
        except pymysql.Error:
            return None
        finally:
            c.close()

    def rows(self, db, base_id=None):
        r = self.sql(db, "SELECT count(*) FROM data" +
                     (" WHERE base_id = %s" if base_id else ""), *([base_id] if base_id else []))
        return r[0][0] if r else -1

    def ctl(self, verb):
        return subprocess.run([self.mysql_sh, verb, self.dir], capture_output=True, text=True,
                              timeout=120 * SLOW)
