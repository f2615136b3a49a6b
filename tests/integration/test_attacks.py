"""Malicious SCEP requests over real HTTP, built by bench/scep_attack with the project's
own SCEP client code: each is refused with the right failInfo or HTTP status, stores
nothing the policy does not store by design, and leaves the server serving. Certificates
issued for requests that ask for too much carry only what the profile allows."""

import os
import re
import shutil
import tempfile

import pytest

from conftest import LABEL, Daemon, x509_text
from scep_helpers import (ScepServer, database_counts, run_scep_attack, scep_attack_path,
                          verify)

pytestmark = pytest.mark.skipif(not os.path.exists(scep_attack_path()),
                                reason="bench/scep_attack is not built")

# What a refused envelope or payload gets, whatever went wrong inside it.
ENVELOPE_KINDS = [
    ("wrong-recipient", []),
    ("garbage-after-decrypt", []),
    ("many-recipients-ca", ["--recipients", "150"]),  # under 64 KiB, every one the CA
    ("many-recipients", ["--recipients", "150"]),     # 149 others, then the CA
    ("many-extensions", ["--extensions", "2000"]),    # about 40 KiB of CSR
    ("many-extensions", ["--extensions", "33"]),      # one over the cap, a small CSR
]
# Over the 64 KiB PKIOperation limit: refused before any work.
OVERSIZED_KINDS = [
    ("big-body", []),         # 1 MiB of random bytes
    ("many-recipients", []),  # 10,000 recipients, about 3 MB
    ("many-extensions", []),  # 100,000 extensions, about 2 MB
]


@pytest.fixture(scope="module")
def shared_scep():
    """One server under `grant auto` for the tests that leave its configuration alone;
    each checks the database against its own starting point."""
    root = tempfile.mkdtemp(prefix="scepter-it-attacks-")
    d = Daemon(root)
    d.start()
    try:
        yield ScepServer(d, root).listen().create_ca("grant auto")
    finally:
        d.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def scep(daemon, workdir):
    """A server of the test's own, under `grant auto`, for tests that change its mode."""
    return ScepServer(daemon, workdir).listen().create_ca("grant auto")


def attack(scep, kind, *args, **kw):
    return run_scep_attack(scep, kind, *args, **kw)


def only(run):
    """The one attack reply of a run."""
    replies = run.attacks()
    assert len(replies) == 1, run.output
    return replies[0]


def assert_still_serving(scep):
    """GetCACaps answers and an honest enrolment is granted (under grant auto)."""
    r = scep.get("operation=GetCACaps")
    assert r.status == 200 and b"POSTPKIOperation" in r.body, (r.status, r.body)
    scep.d.cs("grant auto")
    reply = only(attack(scep, "honest", key_index=9))
    assert (reply["http"], reply.get("pkiStatus")) == ("200", "SUCCESS"), reply
    assert "echo" not in reply, reply


def test_envelope_and_payload_attacks_get_one_generic_bad_message_check(shared_scep):
    scep = shared_scep
    before = database_counts(scep.d)
    texts = set()
    for kind, args in ENVELOPE_KINDS:
        reply = only(attack(scep, kind, *args))
        assert reply["http"] == "200", (kind, args, reply)
        assert (reply["pkiStatus"], reply["failInfo"]) == ("FAILURE", "badMessageCheck"), \
            (kind, args, reply)
        assert "echo" not in reply, (kind, reply)  # transactionID and nonce echoed
        texts.add(reply["failInfoText"])
    # No oracle on what went wrong inside the envelope: one text for all of them.
    assert len(texts) == 1, texts
    assert database_counts(scep.d) == before
    assert_still_serving(scep)


def test_oversized_bodies_are_413(shared_scep):
    scep = shared_scep
    before = database_counts(scep.d)
    for kind, args in OVERSIZED_KINDS:
        run = attack(scep, kind, *args, timeout=180)
        reply = only(run)
        assert reply["http"] == "413", (kind, reply)
    assert database_counts(scep.d) == before
    assert_still_serving(scep)


def test_ca_request_waits_for_the_operator_even_under_grant_auto(shared_scep):
    """A request for a CA certificate is a subordinate CA's: `grant auto` does not issue
    it; it waits under "Subordinate CA certificate requests", and nothing is issued."""
    scep = shared_scep
    requests, certificates = database_counts(scep.d)
    reply = only(attack(scep, "csr-ca-true", count=1, key_index=3))
    assert reply["pkiStatus"] == "PENDING", reply
    assert database_counts(scep.d) == (requests + 1, certificates)
    out = scep.d.sh(f"crypto pki server {LABEL} info requests")
    section = out.split("Subordinate CA certificate requests:")[1].split("requests:")[0]
    assert "pending" in section, out
    # Removed again: the other tests of this server count requests from their own start.
    pending = [r for r in scep.requests() if r["state"] == "pending"]
    for row in pending:
        scep.exec(f"remove {row['id']}")
    assert_still_serving(scep)


FORBIDDEN = ["CA:TRUE", "Certificate Sign", "CRL Sign", "OCSP Signing", "Code Signing",
             "Any Extended Key Usage", "attacker.example", "DE:AD:BE:EF",
             "CRL Distribution Points", "Authority Information Access"]


def test_issued_certificates_carry_none_of_the_requested_powers(shared_scep, workdir):
    scep = shared_scep
    out = os.path.join(workdir, "issued")
    ca = scep.ca_pem()
    for i, kind in enumerate(["csr-keycertsign", "csr-ocspsigning", "csr-codesigning",
                              "csr-cdp"]):
        reply = only(attack(scep, kind, out_dir=out, key_index=i))
        assert reply["pkiStatus"] == "SUCCESS", (kind, reply)
        cert = reply["cert"]
        verify(ca, cert)
        text = x509_text(cert)
        for word in FORBIDDEN:
            assert word not in text, (kind, word, text)
        assert re.search(r"Basic Constraints: critical\s+CA:FALSE", text), (kind, text)
        # Never more than an RSA end entity's usages (less when the request asks for less).
        usage = re.search(r"X509v3 Key Usage: critical\s+([^\n]+)\n", text)
        assert usage and set(usage.group(1).split(", ")) <= \
            {"Digital Signature", "Key Encipherment"}, (kind, text)
        if kind in ("csr-ocspsigning", "csr-codesigning"):
            # Only the allowed part of the request survives.
            assert re.search(r"Extended Key Usage:\s+TLS Web Client Authentication\n",
                             text), (kind, text)
        if kind == "csr-cdp":
            assert "Subject Key Identifier" in text, text  # computed, not the request's
    assert_still_serving(scep)


def test_squatting_a_transaction_id_is_refused(shared_scep):
    scep = shared_scep
    before_requests, before_certs = database_counts(scep.d)
    run = attack(scep, "squat-tid", count=2)
    victim = [r for r in run.replies if r["role"] == "victim"][0]
    assert victim["pkiStatus"] == "SUCCESS", run.output
    for reply in run.attacks():
        assert reply["tid"] == victim["tid"], run.output
        assert (reply["pkiStatus"], reply["failInfo"]) == ("FAILURE", "badRequest"), reply
        assert "serial" not in reply, reply
    # The victim's request and certificate only.
    assert database_counts(scep.d) == (before_requests + 1, before_certs + 1)
    assert_still_serving(scep)


def test_replay_gets_the_same_answer_and_stores_nothing_new(shared_scep):
    scep = shared_scep
    before_requests, before_certs = database_counts(scep.d)
    run = attack(scep, "replay", count=2)
    assert [r["role"] for r in run.replies] == ["original", "replay", "replay"], run.output
    serials = {r.get("serial") for r in run.replies}
    assert all(r["pkiStatus"] == "SUCCESS" for r in run.replies), run.output
    assert len(serials) == 1 and None not in serials, run.output
    assert database_counts(scep.d) == (before_requests + 1, before_certs + 1)
    assert_still_serving(scep)


def test_renewal_into_another_subject_is_not_granted_under_manual(scep, workdir):
    out = os.path.join(workdir, "renew")
    old = only(attack(scep, "honest", "--subject", "CN=attack-old", out_dir=out))
    assert old["pkiStatus"] == "SUCCESS", old
    signer = ["--signer-cert", old["cert"], "--signer-key", old["cert"][:-4] + ".key"]
    scep.d.cs("no grant auto")
    before_requests, before_certs = database_counts(scep.d)

    reply = only(attack(scep, "renew-other-subject", *signer, "--subject", "CN=attack-victim",
                        key_index=1))
    # "ours, other identity" under manual: waits for the operator (stored by design).
    assert reply["pkiStatus"] == "PENDING", reply
    assert database_counts(scep.d) == (before_requests + 1, before_certs)
    rows = [r for r in scep.requests() if r["state"] == "pending"]
    assert [r["subject"] for r in rows] == ["cn=attack-victim"], scep.requests()

    # The same signer renewing its own identity is granted: the refusal above is the
    # subject's doing.
    reply = only(attack(scep, "renew-other-subject", *signer, "--subject", "CN=attack-old",
                        key_index=2))
    assert reply["pkiStatus"] == "SUCCESS", reply
    assert_still_serving(scep)


def test_ra_lookalikes_do_not_vouch_under_ra_auto(scep, workdir):
    out = os.path.join(workdir, "ra")
    signers = {}
    # Granted under grant auto: neither subject asks for the RA role.
    for i, subject in enumerate(["CN=ioscs radius", r"CN=router\,ou=ioscs RA"]):
        reply = only(attack(scep, "honest", "--subject", subject, out_dir=os.path.join(out, str(i)),
                            key_index=i))
        assert reply["pkiStatus"] == "SUCCESS", (subject, reply)
        signers[subject] = ["--signer-cert", reply["cert"],
                            "--signer-key", reply["cert"][:-4] + ".key"]
    # A real RA certificate: the operator grants the RA-role request by hand, and the
    # client's resend (same key, same transactionID) collects it.
    ra_dir = os.path.join(out, "ra")
    ra_args = ("--subject", "CN=ioscs RA", "--tag", "real-ra")
    ra = only(attack(scep, "honest", *ra_args, out_dir=ra_dir, key_index=2))
    assert ra["pkiStatus"] == "PENDING", ra
    ra_id = [r["id"] for r in scep.requests() if r["subject"] == "cn=ioscs RA"][0]
    scep.exec(f"grant {ra_id}")
    ra = only(attack(scep, "honest", *ra_args, out_dir=ra_dir, key_index=2))
    assert ra["pkiStatus"] == "SUCCESS", ra
    ra_cert, ra_key = ra["cert"], ra["cert"][:-4] + ".key"

    scep.d.cs("grant ra-auto", "yes")
    for i, (subject, signer) in enumerate(signers.items()):
        before_requests, before_certs = database_counts(scep.d)
        reply = only(attack(scep, "ra-impersonation", *signer, key_index=3 + i))
        # "ours, other identity": pending under ra-auto, never granted on its say-so.
        assert reply["pkiStatus"] == "PENDING", (subject, reply)
        assert database_counts(scep.d) == (before_requests + 1, before_certs), subject
    # The real RA's request is granted: the lookalikes failed for their names alone.
    reply = only(attack(scep, "ra-impersonation", "--signer-cert", ra_cert, "--signer-key", ra_key,
                        key_index=5))
    assert reply["pkiStatus"] == "SUCCESS", reply
    assert_still_serving(scep)


def test_pending_requests_are_capped(scep):
    scep.d.cs("no grant auto", "limit pending-requests 2")
    run = attack(scep, "honest", count=3)
    statuses = [(r["pkiStatus"], r.get("failInfo")) for r in run.attacks()]
    assert statuses == [("PENDING", None), ("PENDING", None), ("FAILURE", "badRequest")], \
        run.output
    assert [r["state"] for r in scep.requests()] == ["pending", "pending"]
    assert_still_serving(scep)


def test_replies_are_signed_with_sha256_or_better(shared_scep):
    scep = shared_scep
    # A client that signs with SHA-1 still gets a reply signed with SHA-256 or better
    # (decode_cert_rep() checked that signature against the CA certificate).
    for kind in ("garbage-after-decrypt", "honest"):
        reply = only(attack(scep, kind, "--digest", "SHA-1"))
        assert reply["http"] == "200" and "pkiStatus" in reply, (kind, reply)
        assert reply["digest"] in ("SHA-256", "SHA-384", "SHA-512"), (kind, reply)
