"""Two scepterd nodes serve one CA from one PostgreSQL database, behind nginx as a
round-robin load balancer on 127.0.0.1 (file_servers.Balancer): real SCEP clients
(strongSwan `pki --scep`, micromdm `scepclient`) enrol through the balancer with the
grant made at either node's shell, or automatically; and a load of 16 clients
(bench/scep_load) goes on while one node is killed with SIGKILL and started again."""

import os
import subprocess
import threading
import types

import pytest
from cryptography import x509

from conftest import LABEL, make_csr, psql, second_node, wait_for
from file_servers import Balancer
from pg_cluster import PASSWORD, pg_primary  # noqa: F401 (a fixture)
from scep_helpers import (SCEP_PATH, Micromdm, ScepServer, StrongSwan, cert_serial_of,
                          run_scep_attack, verify)
from test_restart_and_kill import (cached_keys, keep_keys, load_result, saved_count,
                                   scep_load_path)


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


def test_grant_all_at_both_nodes_at_once_grants_each_request_once(nodes, workdir,
                                                                 postgres_url):
    """Twelve requests wait; the operators of both nodes enter `grant all` at the same
    moment. Each request is granted once, by one node: twelve certificates, no more."""
    sa, sb, _ = nodes
    for i in range(12):
        sa.d.submit(make_csr(workdir, f"r{i}", f"/CN=r{i}", key="ec:prime256v1"))
    assert len([r for r in sb.requests() if r["state"] == "pending"]) == 12
    outputs = {}
    threads = [threading.Thread(target=lambda n=n, s=s: outputs.__setitem__(
        n, s.d.sh(f"crypto pki server {LABEL} grant all", ok=None))) for n, s in
        (("a", sa), ("b", sb))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = sa.requests()
    assert [r["state"] for r in rows].count("granted") == 12, rows
    stored = psql(postgres_url, "SELECT count(*), count(DISTINCT request_id) FROM certificates "
                                "WHERE request_id > 0")
    assert stored == "12|12", (stored, outputs)


def test_a_transaction_sent_to_both_nodes_at_once_gets_one_certificate(nodes, postgres_url):
    """A client resends its PKCSReq before the first copy is answered, and the balancer
    takes the two copies to the two nodes at the same moment (bench/scep_attack replay
    --together). Both copies get the same certificate; the database holds one request
    and one certificate for the transaction."""
    sa, sb, lb = nodes
    for scep in (sa, sb):
        scep.d.cs("grant auto")
    via_balancer = types.SimpleNamespace(url=lb.url(SCEP_PATH), ca_pem=sa.ca_pem)
    rounds = 12
    for i in range(rounds):
        run = run_scep_attack(via_balancer, "replay", "--together", count=1, key_index=i)
        assert [r["pkiStatus"] for r in run.replies] == ["SUCCESS", "SUCCESS"], run.output
        assert len({r["serial"] for r in run.replies}) == 1, run.output
    served = lb.served_by()
    assert served.get(sa.port, 0) > 0 and served.get(sb.port, 0) > 0, served
    assert psql(postgres_url, "SELECT count(*) FROM requests") == str(rounds)
    assert psql(postgres_url, "SELECT count(*) FROM certificates") == str(rounds + 1)  # + CA
    # The two copies met: a node found the other's request when it went to store its own.
    logs = sa.d.log() + sb.d.log()
    assert "was stored meanwhile by another node" in logs, served


# The size. The clients take 600 keys in turn (each use its own transactionID):
# making 10,000 RSA keys would take longer than the load.
LOAD_N = int(os.environ.get("SCEPTER_SCALE_OUT_N", "10000"))
LOAD_KEYS = 600


def run_load(workdir, port, tag, events, stored_serials, extra):
    """bench/scep_load through `port`: LOAD_N enrolments by 16 clients that resend on
    trouble (--retry). After the first 60 certificates, `events` runs (a generator: it
    breaks something, yields how many certificates to wait for, then repairs). Checks
    that every request ended in SUCCESS with a unique serial, and that the database
    (`stored_serials()`: its certificates' serials, one per line) holds each certificate
    a client received and, beside the CA and `extra` others, nothing more: a resent
    transaction got its first certificate again. Returns scep_load's RESULT fields."""
    keys = cached_keys(workdir)
    save_dir = os.path.join(workdir, f"issued-{tag}")
    log_path = os.path.join(workdir, f"scep_load-{tag}.log")
    with open(log_path, "w") as log:
        load = subprocess.Popen(
            [scep_load_path(), "--port", str(port), "--label", LABEL, "--mode", "enroll",
             "--n", str(LOAD_N), "--c", "16", "--keys", keys,
             "--distinct-keys", str(min(LOAD_N, LOAD_KEYS)), "--tag", tag, "--retry",
             "--retry-seconds", "120", "--save-dir", save_dir],
            stdout=log, stderr=subprocess.STDOUT)

    def load_log():
        with open(log_path) as f:
            return f.read()

    try:
        wait_for(lambda: load.poll() is not None or
                 (os.path.isdir(save_dir) and saved_count(save_dir) >= 60),
                 timeout=300 + LOAD_N // 10,  # keys missing from the cache, and the messages
                 what="the first certificates", interval=0.01)
        assert load.poll() is None, load_log()
        for target in events:
            wait_for(lambda: saved_count(save_dir) >= target or load.poll() is not None,
                     timeout=180, what=f"{target} certificates", interval=0.01)
        load.wait(timeout=300)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    out = load_log()
    keep_keys(keys)

    assert load.returncode == 0, out
    result = load_result(out)
    assert result["success"] == str(LOAD_N), out
    for field in ("pending", "failure", "bad_replies", "unverified", "wrong_key", "dup_serials",
                  "gave_up", "save_errors"):
        assert result[field] == "0", f"{field}:\n{out}"  # a string: shown whole

    held = set()
    for f in os.listdir(save_dir):
        with open(os.path.join(save_dir, f), "rb") as fh:
            held.add(x509.load_der_x509_certificate(fh.read()).serial_number)
    assert len(held) == LOAD_N
    stored = [int(s) for s in stored_serials().split()]
    assert len(stored) == len(set(stored)), "a serial is in the database twice"
    assert held <= set(stored), "a client holds a certificate the database does not"
    assert len(stored) == LOAD_N + 1 + extra, len(stored)
    print(f"scep_load {tag}: " + " ".join(f"{k}={v}" for k, v in result.items()))  # with -s
    return result


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

    def kill_and_restart_b():
        b = sb.d
        b.kill()
        yield LOAD_N // 2  # certificates from node A alone
        b.start()
        wait_for(lambda: "Status: enabled" in b.show_server(), what="node B enabled again")

    run_load(workdir, lb.port, "two-nodes", kill_and_restart_b(),
             lambda: psql(postgres_url, "SELECT serial FROM certificates"), extra=2)
    served = lb.served_by()
    assert served.get(sa.port, 0) > 0 and served.get(sb.port, 0) > 0, served
    # The kill was felt: the balancer found node B gone, and sent those requests to A.
    assert lb.errors() > 0, lb.log


def test_a_node_that_loses_the_database_stops_issuing_and_recovers(daemon, workdir, pg_primary):
    """The database server stops: the node answers SCEP enrolments with HTTP 503, `show`
    says why, and once the database is back it issues again by itself."""
    primary, _ = pg_primary
    scep = ScepServer(daemon, workdir).listen()
    scep.create_ca(f"database url ser {primary.url()}", "grant auto")
    ca_pem = scep.ca_pem()
    first = StrongSwan(workdir, "before", scep.url, ca_pem, 5)
    rc, out = first.run()
    assert rc == 0, out

    primary.stop()
    shown = wait_for(lambda: (lambda s: s if "Status: enabled" not in s else None)(
        daemon.show_server()), timeout=30, what="show to say the server stopped")
    assert "Status: disabled, Storage inaccessible: " in shown, shown
    assert PASSWORD not in shown + daemon.log()
    during = Micromdm(workdir, "during", scep.url, 6)
    rc, out = during.run(timeout=60)
    assert rc != 0 and "503" in out, out

    primary.start()
    wait_for(lambda: daemon.server_enabled(), timeout=60, what="the server back by itself")
    rc, out = StrongSwan(workdir, "after", scep.url, ca_pem, 7).run()
    assert rc == 0, out
    assert cert_serial_of(os.path.join(workdir, "after.pem")) == cert_serial_of(first.cert) + 1


def test_the_nodes_carry_on_after_a_database_failover(daemon, workdir, pg_primary):
    """PostgreSQL with a synchronous standby; both nodes name both servers
    (`target_session_attrs=read-write`). In the middle of a load the primary stops and
    the standby is promoted: the nodes find the new primary by themselves, and no
    certificate a client received is missing, no serial is issued twice."""
    primary, add_standby = pg_primary
    standby = add_standby()
    url = (f"postgresql://scepter:{PASSWORD}@127.0.0.1:{primary.port},127.0.0.1:{standby.port}"
           "/scepter?target_session_attrs=read-write&connect_timeout=2")
    sa = ScepServer(daemon, workdir).listen()
    sa.create_ca(f"database url ser {url}", "grant auto")
    b = second_node(daemon, workdir, url, "grant auto")
    lb = None
    try:
        sb = ScepServer(b, workdir).listen()
        lb = Balancer([sa.port, sb.port]).start()

        def failover():
            primary.stop("immediate")
            standby.promote()
            yield LOAD_N * 2 // 3
            for node in (daemon, b):
                wait_for(node.server_enabled, timeout=60, what="both nodes enabled")

        run_load(workdir, lb.port, "failover", failover(),
                 lambda: standby.sql("SELECT serial FROM certificates", database="scepter"),
                 extra=0)
        assert "CRL published by: this node" in daemon.show_server() + b.show_server()
    finally:
        if lb:
            lb.remove()
        b.stop()
