"""A certificate server whose main database is on PostgreSQL (`database url ser
postgresql://USER:PASSWORD@HOST:PORT/DB`): it enrols over SCEP, survives a restart with
its serials and requests, and never shows the database password.

The PostgreSQL server is the one CI starts on 127.0.0.1 (conftest.postgres_url: a
database of its own for each test)."""

import os
import re
import shutil
import subprocess

from conftest import (BIN_DIR, LABEL, Daemon, make_csr, extract_certificate, cert_serial,
                      psql)
from scep_helpers import ScepServer


def password_of(url):
    m = re.match(r"postgres(?:ql)?://[^:/@]+:([^@]+)@", url)
    assert m, "SCEPTER_TEST_POSTGRES needs a user and a password in the URL"
    return m.group(1)


def test_a_ca_on_postgresql_enrols_and_restarts(daemon, workdir, postgres_url):
    d = daemon
    scep = ScepServer(d, workdir).listen()
    scep.create_ca("grant auto", f"database url ser {postgres_url}")
    assert not os.path.exists(d.path(f"{LABEL}.ser")), "the database went to a local file"

    pem = extract_certificate(d.submit(make_csr(workdir, "a", "/CN=a", key="ec:prime256v1")))
    assert cert_serial(pem) == 2
    load = subprocess.run(
        [os.path.join(BIN_DIR, "bench/scep_load"), "--port", str(scep.port), "--label", LABEL,
         "--mode", "enroll", "--n", "40", "--c", "8", "--tag", "pg",
         "--keys", os.path.join(workdir, "keys.pem")],
        capture_output=True, text=True, timeout=600)
    assert "success=40 " in load.stdout and "dup_serials=0" in load.stdout, load.stdout
    # The rows are in PostgreSQL: the CA (1), the shell's certificate and the 40.
    assert psql(postgres_url, "SELECT count(*), max(serial) FROM certificates") == "42|42"

    secret = password_of(postgres_url)
    config = d.sh("show running-config")
    assert secret not in config
    assert re.search(r"database url ser postgres(ql)?://\S+ username \S+ password 7 \S+", config)
    d.sh("write memory")
    show = d.show_server()
    d.restart()
    assert d.show_server() == show
    pem = extract_certificate(d.submit(make_csr(workdir, "b", "/CN=b", key="ec:prime256v1")))
    assert cert_serial(pem) == 43
    assert secret not in d.log()


def test_an_unreachable_database_leaves_the_server_disabled_with_the_reason(daemon, workdir):
    d = daemon
    # Nothing listens on port 1 of 127.0.0.1.
    out = d.sh("configure terminal", f"crypto pki server {LABEL}",
               "database archive pkcs12 password cisco1234",
               "database url ser postgresql://ca:Secret123@127.0.0.1:1/scepter",
               "no shutdown", "yes", "end", ok=None)
    assert "% Certificate Server enabled." not in out
    assert "Storage inaccessible" in out or "Storage inaccessible" in d.show_server(), out
    assert "Secret123" not in out + d.show_server() + d.log()
    assert not d.server_enabled()


def test_a_second_node_is_refused_while_the_first_serves_the_ca(daemon, workdir, postgres_url):
    """Until several nodes can share one CA's CRL, one node serves a CA's database: a
    second scepterd with the CA's archive is refused, and takes over once the first is
    shut down."""
    a = daemon
    a.create_ca(f"database url ser {postgres_url}")
    b = Daemon(os.path.join(workdir, "b"))
    b.start()
    try:
        shutil.copy(a.path(f"{LABEL}.p12"), b.path(f"{LABEL}.p12"))
        out = b.sh("configure terminal",
                   f"crypto pki import {LABEL} pkcs12 nvram:{LABEL}.p12 cisco1234", "", "end")
        assert "Imported PKCS12 file successfully" in out, out
        enable = ["configure terminal", f"crypto pki server {LABEL}", "no shutdown", "end"]
        out = b.sh("configure terminal", f"crypto pki server {LABEL}",
                   f"database url ser {postgres_url}", "end")
        out = b.sh(*enable, ok=None)
        shown = out + b.show_server()
        assert "% Certificate Server enabled." not in out
        assert f"Another scepterd serves certificate server {LABEL}" in shown, shown
        assert password_of(postgres_url) not in shown + b.log()

        a.sh("configure terminal", f"crypto pki server {LABEL}", "shutdown", "end")
        out = b.sh(*enable)
        assert "% Certificate Server enabled." in out, out
        pem = extract_certificate(b.submit(make_csr(workdir, "b1", "/CN=b1",
                                                    key="ec:prime256v1"), ok=None) +
                                  b.sh(f"crypto pki server {LABEL} grant all"))
        assert cert_serial(pem) == 2
    finally:
        b.stop()
