"""Two scepterd nodes serve one CA from one PostgreSQL database, behind nginx as a
round-robin load balancer on 127.0.0.1 (file_servers.Balancer): real SCEP clients
(strongSwan `pki --scep`, micromdm `scepclient`) enrol through the balancer with the
grant made at either node's shell, or automatically; and a load of 16 clients
(bench/scep_load) goes on while one node is killed with SIGKILL and started again."""

import os
import re
import shutil
import subprocess

import pytest
from cryptography import x509

from conftest import LABEL, psql, second_node, wait_for
from file_servers import Balancer
from scep_helpers import SCEP_PATH, Micromdm, ScepServer, StrongSwan, cert_serial_of, verify
from test_restart_and_kill import KEYS_CACHE, pem_key_count, saved_count, scep_load_path


@pytest.fixture
def nodes(daemon, workdir, postgres_url):
    """(A, B, balancer): A made the CA; B serves it from the same database."""
    sa = ScepServer(daemon, workdir).listen()
    sa.create_ca(f"database url ser {postgres_url}", "scep allow-des")  # micromdm: DES
    b = second_node(daemon, workdir, postgres_url, "scep allow-des")
    sb = ScepServer(b, workdir).listen()
    lb = Balancer([sa.port, sb.port]).start()
    try:
        yield sa, sb, lb
    finally:
        lb.remove()
        b.stop()


def pending_row(scep, subject):
    """The pending request for `subject` (as both nodes list it), once there is one."""
    def found():
        rows = [r for r in scep.requests() if r["state"] == "pending" and subject in r["subject"]]
        return rows[0] if rows else None
    return wait_for(found, what=f"a pending request for {subject}")


def test_clients_enrol_through_the_balancer_granted_at_either_node(nodes, workdir):
    sa, sb, lb = nodes
    url = lb.url(SCEP_PATH)
    ca_pem = sa.ca_pem()

    # strongSwan polls (through both nodes, in turn) until the operator at B grants.
    swan = StrongSwan(workdir, "swan1", url, ca_pem, 1).start(poll=60)
    row = pending_row(sa, "cn=swan1")
    assert pending_row(sb, "cn=swan1")["id"] == row["id"]
    sb.exec(f"grant {row['id']}")
    rc, out = swan.finish()
    assert rc == 0, out
    verify(ca_pem, swan.cert)

    # micromdm stops at PENDING; the operator at A grants; its resend gets the certificate.
    mdm = Micromdm(workdir, "mdm1", url, 2)
    mdm.run_until_pending()
    row = pending_row(sb, "cn=mdm1")
    sa.exec(f"grant {row['id']}")
    rc, out = mdm.run()
    assert rc == 0, out
    verify(ca_pem, mdm.cert)

    serials = {cert_serial_of(swan.cert), cert_serial_of(mdm.cert)}
    assert serials == {2, 3}
    served = lb.served_by()
    assert served.get(sa.port, 0) > 0 and served.get(sb.port, 0) > 0, served
    # The kill was felt: the balancer found node B gone, and sent those requests to A.
    assert lb.errors() > 0, lb.log
    print("RESULT", result, "served", served, "balancer errors", lb.errors())


LOAD_N = 300
LOAD_TAG = "two-nodes"


def test_a_load_across_two_nodes_survives_a_node_killed(nodes, workdir, postgres_url):
    """grant auto on both nodes; 16 clients enrol through the balancer while node B is
    killed with SIGKILL and started again. Every request ends in SUCCESS, every serial
    is unique, and every certificate a client holds is in the database."""
    sa, sb, lb = nodes
    for scep in (sa, sb):
        scep.d.cs("grant auto")
        scep.d.sh("write memory")  # B starts again with its configuration
    ca_pem = sa.ca_pem()
    for name, index, client in (("swan2", 3, StrongSwan), ("mdm2", 4, Micromdm)):
        c = (client(workdir, name, lb.url(SCEP_PATH), ca_pem, index) if client is StrongSwan
             else client(workdir, name, lb.url(SCEP_PATH), index))
        rc, out = c.run()
        assert rc == 0, out
        verify(ca_pem, c.cert)

    keys = os.path.join(workdir, "keys.pem")
    if os.path.exists(KEYS_CACHE):
        shutil.copy(KEYS_CACHE, keys)
    save_dir = os.path.join(workdir, "issued")
    log_path = os.path.join(workdir, "scep_load.log")
    with open(log_path, "w") as log:
        load = subprocess.Popen(
            [scep_load_path(), "--port", str(lb.port), "--label", LABEL, "--mode", "enroll",
             "--n", str(LOAD_N), "--c", "16", "--keys", keys, "--tag", LOAD_TAG, "--retry",
             "--retry-seconds", "60", "--save-dir", save_dir],
            stdout=log, stderr=subprocess.STDOUT)

    def load_log():
        with open(log_path) as f:
            return f.read()

    b = sb.d
    try:
        wait_for(lambda: load.poll() is not None or
                 (os.path.isdir(save_dir) and saved_count(save_dir) >= 60), timeout=300,
                 what="the first certificates", interval=0.01)
        assert load.poll() is None, load_log()
        b.kill()
        wait_for(lambda: saved_count(save_dir) >= 150 or load.poll() is not None, timeout=120,
                 what="certificates from node A alone", interval=0.01)
        b.start()
        wait_for(lambda: "Status: enabled" in b.show_server(), what="node B enabled again")
        load.wait(timeout=300)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    out = load_log()
    if pem_key_count(keys) > pem_key_count(KEYS_CACHE):
        shutil.copy(keys, KEYS_CACHE + ".tmp")
        os.replace(KEYS_CACHE + ".tmp", KEYS_CACHE)

    assert load.returncode == 0, out
    result = dict(re.findall(r"(\w+)=(\S+)", [l for l in out.splitlines()
                                             if l.startswith("RESULT ")][-1]))
    assert result["success"] == str(LOAD_N), out
    for field in ("pending", "failure", "bad_replies", "unverified", "wrong_key", "dup_serials",
                  "gave_up", "save_errors"):
        assert result[field] == "0", (field, out)

    held = set()
    for f in os.listdir(save_dir):
        with open(os.path.join(save_dir, f), "rb") as fh:
            held.add(x509.load_der_x509_certificate(fh.read()).serial_number)
    assert len(held) == LOAD_N
    rows = psql(postgres_url, "SELECT serial FROM certificates").split()
    stored = [int(s) for s in rows]
    assert len(stored) == len(set(stored))
    assert held <= set(stored), "a client holds a certificate the database does not"
    # Only the CA, the two clients and the load: a resent transaction got its first
    # certificate again, not a second one.
    assert len(stored) == LOAD_N + 3, len(stored)
    served = lb.served_by()
    assert served.get(sa.port, 0) > 0 and served.get(sb.port, 0) > 0, served
    # The kill was felt: the balancer found node B gone, and sent those requests to A.
    assert lb.errors() > 0, lb.log
    print("RESULT", result, "served", served, "balancer errors", lb.errors())
