"""The audit log of a running scepterd: the operator's commands recorded with their
secrets masked, checkpoints signed by the CA, `show audit`, and `verify audit` finding a
record edited in nvram:audit.log."""

import json
import os

from conftest import LABEL, Daemon, make_csr, wait_for


def records(d):
    with open(d.path("audit.log")) as f:
        return [json.loads(line) for line in f]


def test_commands_checkpoints_and_a_tampered_record(daemon, workdir):
    daemon.stop()
    daemon.start(extra=["--audit-checkpoint-seconds", "1"])
    daemon.create_ca()
    daemon.submit(make_csr(workdir, "r1", "/CN=r1", key="shared"))
    daemon.sh(f"crypto pki server {LABEL} grant all")
    daemon.sh(f"crypto pki server {LABEL} revoke 2")
    daemon.sh("configure terminal", "crypto key generate rsa label exported modulus 2048 exportable",
              "crypto key export rsa exported pem terminal aes256 Sekret-Passphrase-1", "end")
    daemon.sh(f"crypto pki server {LABEL} reject 99", ok=False)
    daemon.sh("show crypto pki server")  # looking is not recorded

    def signed():
        rs = records(daemon)
        return rs if rs[-1]["event"] == "checkpoint" else None
    rs = wait_for(signed, timeout=20, what="a signed checkpoint")
    text = open(daemon.path("audit.log")).read()
    assert "Sekret-Passphrase-1" not in text
    commands = [r["detail"] for r in rs if r["event"] == "command"]
    assert f"crypto pki server {LABEL} grant all" in commands, commands
    assert f"crypto pki server {LABEL} revoke 2" in commands, commands
    assert "crypto key export rsa exported pem terminal aes256 *****" in commands, commands
    assert not any(c.startswith("show") for c in commands), commands
    [failed] = [r for r in rs if r["detail"] == f"crypto pki server {LABEL} reject 99"]
    assert failed["outcome"].startswith("failed: "), failed
    assert all(r["actor"].startswith("shell uid ") for r in rs if r["event"] == "command")
    assert any(r["event"] == "start" for r in rs)
    assert any(r["event"] == "login" and r["actor"].startswith("shell uid ") for r in rs)
    [issued] = [r for r in rs if r["event"] == "issue"]
    assert issued["ca"] == LABEL and issued["detail"].startswith("certificate 0x2 for request 1"), issued
    assert rs[-1]["ca"] == LABEL

    out = daemon.sh("verify audit")
    assert "Audit log verified" in out, out
    assert f"Signed by: {LABEL} (serial 0x1)" in out, out
    shown = daemon.sh("show audit last 3")
    assert len(shown.strip().splitlines()) == 3, shown
    shown = daemon.sh("show audit all")
    assert f"checkpoint scepterd [{LABEL}]: " in shown, shown
    assert f"command shell uid 0 pid " in shown and f": crypto pki server {LABEL} revoke 2 (ok)" in shown, shown

    # Someone with access to the file turns the revocation into something else.
    lines = open(daemon.path("audit.log")).read().splitlines(keepends=True)
    at = next(i for i, l in enumerate(lines) if f"revoke 2" in l)
    lines[at] = lines[at].replace("revoke 2", "revoke 3")
    with open(daemon.path("audit.log"), "w") as f:
        f.writelines(lines)
    out = daemon.sh("verify audit", ok=False)
    assert f"% Audit log verification FAILED at line {at + 1}: the record was changed." in out, out


def test_json_log_format(workdir):
    """--log-format json: every line the daemon logs is one JSON object, even when an
    attacker-chosen subject tries to break out of it."""
    d = Daemon(workdir)
    d.start(["--log-format", "json"])
    try:
        d.create_ca()
        d.submit(make_csr(workdir, "q", '/CN=quote"brace}x', key="shared"), ok=None)
    finally:
        d.stop()
    lines = [l for l in d.log().splitlines() if l.strip()]
    assert len(lines) > 5
    for line in lines:
        record = json.loads(line)
        assert set(record) == {"time", "level", "message"}, line
        assert record["time"].endswith("Z")
    assert any("scepterd ready" in json.loads(l)["message"] for l in lines)
