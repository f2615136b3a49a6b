"""A certificate server whose main database is on PostgreSQL (`database url ser
postgresql://USER:PASSWORD@HOST:PORT/DB`): it enrols over SCEP, survives a restart with
its serials and requests, and never shows the database password.

The PostgreSQL server is the one CI starts on 127.0.0.1 (conftest.postgres_url: a
database of its own for each test)."""

import os
import re
import subprocess
import time

from conftest import (BIN_DIR, LABEL, make_csr, extract_certificate, cert_serial, psql,
                      second_node, wait_for)
from scep_helpers import Micromdm, ScepServer, cert_serial_of


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
    def shown():  # the same, but for the process that publishes the CRL
        text = d.show_server()
        assert re.search(r"  CRL published by: this node \(.+ pid \d+\)\n", text), text
        return re.sub(r"pid \d+", "pid N", text)
    show = shown()
    d.restart()
    assert shown() == show
    pem = extract_certificate(d.submit(make_csr(workdir, "b", "/CN=b", key="ec:prime256v1")))
    # Under load the node took serials in blocks (up to 64); the rest of the block it held
    # is skipped after the restart, never handed out.
    assert 43 <= cert_serial(pem) <= 42 + 64
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


def served_crl(scep):
    """The CRL a node serves (plain GetCRL): (CRL number, revoked serials)."""
    from cryptography import x509
    r = scep.get("operation=GetCRL")
    assert r.status == 200, r.status
    crl = x509.load_der_x509_crl(r.body)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    return number, sorted(e.serial_number for e in crl)


def test_two_nodes_serve_one_ca(daemon, workdir, postgres_url):
    """Two scepterd nodes on one PostgreSQL database serve one CA at once. A SCEP request
    made through node A waits for the operator, who grants it at node B's shell; the
    client's next poll, through B, gets the certificate. One node publishes the CRL and
    both say which; a revocation at the other node is in the CRL both serve within
    moments. When the publisher is killed, the other node takes over, and the CRL number
    goes on from where it was."""
    a = daemon
    sa = ScepServer(a, workdir).listen()
    sa.create_ca(f"database url ser {postgres_url}", "scep allow-des")  # micromdm's cipher
    b = second_node(a, workdir, postgres_url, "scep allow-des")
    try:
        sb = ScepServer(b, workdir).listen()
        client = Micromdm(workdir, "m1", sa.url, 1)
        out = client.run_until_pending()
        assert "pkiStatus=PENDING" in out, out
        [row] = b.requests()  # node B sees the request made through A
        assert row["state"] == "pending", row
        out = b.sh(f"crypto pki server {LABEL} grant {row['id']}")
        client.url = sb.url
        rc, out = client.run()
        assert rc == 0, out
        assert cert_serial_of(client.cert) == 2
        # Granted once: a second grant is refused at either node.
        for node in (a, b):
            out = node.sh(f"crypto pki server {LABEL} grant {row['id']}", ok=None)
            assert "only pending requests can be granted" in out, out

        shown_a, shown_b = a.show_server(), b.show_server()
        m = re.search(r"CRL published by: this node \((.+)\)", shown_a)
        assert m, shown_a
        assert f"CRL published by: {m.group(1)}\n" in shown_b, shown_b
        first, revoked = served_crl(sb)
        assert revoked == []

        b.sh(f"crypto pki server {LABEL} revoke 2")
        started = time.monotonic()
        wait_for(lambda: served_crl(sa) == (first + 1, [2]) and served_crl(sb) == (first + 1, [2]),
                 timeout=10, what="the revocation in both nodes' CRL")
        took = time.monotonic() - started
        assert took < 5, took

        a.kill()
        wait_for(lambda: "CRL published by: this node" in b.show_server(), timeout=20,
                 what="node B to take the CRL role")
        number, revoked = served_crl(sb)  # A's last CRL is still good: B serves it on
        assert number == first + 1 and revoked == [2], (number, revoked)
        pem = extract_certificate(b.submit(make_csr(workdir, "b1", "/CN=b1",
                                                    key="ec:prime256v1"), ok=None) +
                                  b.sh(f"crypto pki server {LABEL} grant all"))
        assert cert_serial(pem) == 3
        b.sh(f"crypto pki server {LABEL} revoke 3")
        assert served_crl(sb) == (number + 1, [2, 3])
        assert password_of(postgres_url) not in b.log() + b.show_server()
    finally:
        b.stop()


def test_rollover_is_refused_on_a_shared_database(daemon, workdir, postgres_url):
    """The rollover key would live on one node only: `rollover` and `auto-rollover` are
    refused with the reason for a CA on PostgreSQL, and nothing changes."""
    d = daemon
    d.create_ca(f"database url ser {postgres_url}")
    out = d.sh(f"crypto pki server {LABEL} rollover", ok=None)
    assert "rollover is not available there yet" in out, out
    assert "Rollover status" not in d.show_server()
    out = d.cs("shutdown", "auto-rollover 30", "no shutdown", ok=None)
    assert "rollover is not available there yet" in out + d.show_server(), out
    assert not d.server_enabled()
    out = d.cs("no auto-rollover", "no shutdown")
    assert "% Certificate Server enabled." in out, out
