"""PostgreSQL servers of a test's own, for the tests that stop, break or fail over a
database (the shared test server, conftest.postgres_url, must stay up for the others):
Debian's PostgreSQL binaries, each cluster in its own directory on a free port of
127.0.0.1, run as the `postgres` account (initdb refuses root). A primary, and a
streaming standby made from it with pg_basebackup that the primary waits for at each
commit (synchronous replication), which the test can promote."""

import glob
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from file_servers import free_port

USER, PASSWORD, DATABASE = "scepter", "cluster-Secret-7", "scepter"


def _bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        pytest.skip("PostgreSQL server binaries are not installed (scripts/bootstrap.sh deps)")
    return found[-1]


def _as_postgres(*args, check=True, timeout=120):
    p = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True,
                       text=True, timeout=timeout, cwd="/")
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {p.stdout}{p.stderr}")
    return p


class Cluster:
    def __init__(self, root, name):
        if os.geteuid() != 0:
            pytest.skip("a private PostgreSQL server runs as the postgres account: run as root")
        self.dir = os.path.join(root, name)
        self.port = free_port()
        self.log = os.path.join(root, name + ".log")

    def url(self):
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def _configure(self, extra=""):
        with open(os.path.join(self.dir, "postgresql.auto.conf"), "a") as f:
            f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                    f"unix_socket_directories = '{self.dir}'\n{extra}")

    def init_primary(self):
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres", "postgres")
        _as_postgres(_bin("initdb"), "-D", self.dir, "-A", "scram-sha-256", "-U", "postgres",
                     f"--pwfile={self._pwfile()}")
        with open(os.path.join(self.dir, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\n"
                    "host all all 127.0.0.1/32 scram-sha-256\n"
                    "host replication all 127.0.0.1/32 scram-sha-256\n")
        self._configure("wal_level = replica\nmax_wal_senders = 4\n")
        self.start()
        self.sql(f"CREATE ROLE {USER} LOGIN REPLICATION PASSWORD '{PASSWORD}'")
        self.sql(f"CREATE DATABASE {DATABASE} OWNER {USER}")
        return self

    def _pwfile(self):
        path = os.path.join(os.path.dirname(self.dir), "pw")
        with open(path, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(path, 0o644)
        return path

    def init_standby(self, primary):
        """A hot standby streaming from `primary`, named "standby" (the one the primary
        waits for)."""
        os.makedirs(self.dir)
        shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        env_pw = os.path.join(os.path.dirname(self.dir), "pgpass")
        with open(env_pw, "w") as f:
            f.write(f"127.0.0.1:{primary.port}:*:{USER}:{PASSWORD}\n")
        shutil.chown(env_pw, "postgres", "postgres")
        os.chmod(env_pw, 0o600)
        _as_postgres("env", f"PGPASSFILE={env_pw}", _bin("pg_basebackup"), "-h", "127.0.0.1",
                     "-p", str(primary.port), "-U", USER, "-D", self.dir, "-R", "-X", "stream", "-c", "fast")
        self._configure(f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user={USER} "
                        f"password={PASSWORD} application_name=standby'\n"
                        "synchronous_standby_names = ''\n")
        self.start()
        # From now on the primary's commits wait for this standby.
        primary.sql("ALTER SYSTEM SET synchronous_standby_names = 'standby'")
        primary.sql("SELECT pg_reload_conf()")
        primary.wait_streaming()
        return self

    def start(self):
        _as_postgres(_bin("pg_ctl"), "-D", self.dir, "-l", self.log, "-w", "-t", "60", "start")
        return self

    def stop(self, mode="fast"):
        _as_postgres(_bin("pg_ctl"), "-D", self.dir, "-m", mode, "-w", "stop", check=False)

    def promote(self):
        _as_postgres(_bin("pg_ctl"), "-D", self.dir, "-w", "promote")

    def sql(self, statement, database="postgres"):
        p = _as_postgres(_bin("psql"), "-h", self.dir, "-p", str(self.port), "-d", database,
                         "-v", "ON_ERROR_STOP=1", "-At", "-c", statement)
        return p.stdout.strip()

    def wait_streaming(self, timeout=30):
        """Until the standby is attached as the synchronous one."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.sql("SELECT sync_state FROM pg_stat_replication") == "sync":
                return
            time.sleep(0.2)
        raise AssertionError("the standby never became synchronous")


@pytest.fixture
def pg_primary():
    root = tempfile.mkdtemp(prefix="scepter-pg-")
    os.chmod(root, 0o755)
    shutil.chown(root, "postgres", "postgres")  # the servers' logs go here
    clusters = []
    try:
        primary = Cluster(root, "primary")
        clusters.append(primary)
        primary.init_primary()
        yield primary, lambda: clusters.append(Cluster(root, "standby")) or \
            clusters[-1].init_standby(primary)
    finally:
        for c in clusters:
            c.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
