"""Automatic CA certificate rollover of a root scepterd, end to end on 127.0.0.1 with
`clock set` moving the server's time: the shadow (rollover) CA certificate appears at the
autorollover timer, GetNextCACert hands it out signed by the current CA (checked with
`openssl cms -verify`), clients renewing during the overlap get certificates of the next
CA, and at the expiry of the current CA certificate the next one takes over. strongSwan
`pki --scep` and micromdm's `scepclient` enrol before, during and after the switch."""

import datetime
import os
import re

from conftest import Daemon, openssl, wait_for, write
from scep_helpers import (SCEP_PATH, Micromdm, ScepServer, StrongSwan, http_request,
                          pki_scepca, wait_listening)

LABEL = "mycs"


def ossl(*args):
    rc, out = openssl(*args)
    assert rc == 0, out
    return out


def not_after(pem_path):
    out = ossl("x509", "-in", pem_path, "-noout", "-enddate")
    when = out.strip().split("=", 1)[1]
    return datetime.datetime.strptime(when, "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=datetime.timezone.utc)


def md5(pem_path):
    out = ossl("x509", "-in", pem_path, "-noout", "-fingerprint", "-md5")
    hexes = out.strip().split("=", 1)[1].replace(":", "")
    return " ".join(hexes[i:i + 8] for i in range(0, 32, 8))


def verify_at(ca_pem, cert, when):
    out = ossl("verify", "-attime", str(int(when.timestamp())), "-CAfile", ca_pem, cert)
    assert out.strip().endswith("OK"), out


def test_root_rollover_with_real_clients(workdir):
    """The clients sign their requests with the real time, and the server refuses what is
    more than a day off its own clock (badTime). So the CA is made with the server's clock
    set 30 days back, for 31 days: back at the real time, its expiry is less than a day
    ahead, the overlap of `auto-rollover 31` has begun, and the switch comes when the
    server's clock is set just past the expiry, still within a day of the clients'."""
    d = Daemon(os.path.join(workdir, "root"))
    d.start()
    try:
        real_now = d.now()
        d.set_clock(real_now - datetime.timedelta(days=30, hours=1))
        scep = ScepServer(d, workdir).listen()
        scep.create_ca("grant auto", "scep allow-des",  # micromdm sends single DES
                       "lifetime certificate 1", "lifetime ca-certificate 31")
        d.set_clock(real_now)
        old_ca = scep.ca_pem()
        expiry = not_after(old_ca)
        assert expiry - real_now < datetime.timedelta(hours=23, minutes=5), expiry
        status = d.show_server()
        assert "Rollover status" not in status, status

        # Before: both clients enrol under the current CA.
        sw = StrongSwan(workdir, "sw1", scep.url, old_ca, 0)
        rc, out = sw.run()
        assert rc == 0, out
        mdm = Micromdm(workdir, "mdm1", scep.url, key_index=1)
        rc, out = mdm.run()
        assert rc == 0, out
        r = scep.get("operation=GetNextCACert")
        assert r.status == 404, r.status
        assert b"GetNextCACert" not in scep.get("operation=GetCACaps").body

        # The overlap: with auto-rollover the shadow appears by itself.
        d.sh("configure terminal", f"crypto pki server {LABEL}", "auto-rollover 31", "end")
        status = d.show_server()
        assert "Auto-Rollover configured, overlap period 31 days" in status, status
        wait_for(lambda: "Rollover status: available for rollover" in d.show_server(),
                 timeout=20, what="the rollover CA certificate")
        assert b"GetNextCACert" in scep.get("operation=GetCACaps").body
        r = scep.get("operation=GetNextCACert")
        assert r.status == 200, r.status
        assert r.header("content-type") == "application/x-x509-next-ca-cert", r.headers
        nextder = write(os.path.join(workdir, "next.der"), r.body, "wb")
        inner = os.path.join(workdir, "inner.der")
        ossl("cms", "-verify", "-binary", "-inform", "DER", "-in", nextder, "-CAfile", old_ca,
             "-out", inner)
        new_ca = os.path.join(workdir, "new-ca.pem")
        ossl("pkcs7", "-inform", "DER", "-in", inner, "-print_certs", "-out", new_ca)
        assert ossl("x509", "-in", new_ca, "-noout", "-subject") == \
            ossl("x509", "-in", old_ca, "-noout", "-subject")
        start = ossl("x509", "-in", new_ca, "-noout", "-startdate").split("=", 1)[1]
        assert start == ossl("x509", "-in", old_ca, "-noout", "-enddate").split("=", 1)[1]
        status = d.show_server()
        assert f"    Rollover CA cert fingerprint: {md5(new_ca)}" in status, status
        # Killed during the overlap, the server comes back with the same rollover
        # certificate.
        d.sh("write memory")
        d.kill()
        d.start()
        scep.port = wait_listening(d)  # `ip http port 0`: another port since the restart
        sw.url = mdm.url = scep.url
        wait_for(d.server_enabled, timeout=30, what="the server enabled after the kill")
        status = d.show_server()
        assert f"    Rollover CA cert fingerprint: {md5(new_ca)}" in status, status
        # Signed by anything but the current CA, the answer would not verify.
        rc, out = openssl("cms", "-verify", "-binary", "-inform", "DER", "-in", nextder,
                          "-CAfile", new_ca, "-out", inner)
        assert rc != 0, out

        # During the overlap, renewals signed by the current certificates are certified
        # under the next CA, valid from the switch.
        sw2 = StrongSwan(workdir, "sw1-next", scep.url, old_ca, 2,
                         dn="C=US, O=Example, CN=sw1")
        rc, out = sw2.run(old=sw)
        assert rc == 0, out
        after_switch = expiry + datetime.timedelta(minutes=10)
        verify_at(new_ca, sw2.cert, after_switch)
        rc, _ = openssl("verify", "-attime", str(int(after_switch.timestamp())), "-CAfile",
                        old_ca, sw2.cert)
        assert rc != 0
        table = d.sh(f"crypto pki server {LABEL} info requests")
        section = table.split("Router rollover certificates requests:")[1]
        assert section.count("granted") == 1 and "cn=sw1" in section, table
        # micromdm's transactionID is its key's hash: run again with the same key it is the
        # same transaction, and gets the same certificate back (no renewal without a new
        # key, which its client cannot sign with the old certificate).
        rc, out = mdm.run()
        assert rc == 0, out
        verify_at(old_ca, mdm.cert, expiry - datetime.timedelta(hours=1))
        # Somebody new still gets the current CA's certificate until the switch.
        sw3 = StrongSwan(workdir, "sw3", scep.url, old_ca, 3)
        rc, out = sw3.run()
        assert rc == 0, out
        verify_at(old_ca, sw3.cert, expiry - datetime.timedelta(hours=1))
        mdm_during = Micromdm(workdir, "mdm-during", scep.url, key_index=7)
        rc, out = mdm_during.run()
        assert rc == 0, out
        verify_at(old_ca, mdm_during.cert, expiry - datetime.timedelta(hours=1))

        # A one-day overlap from now on: the next CA's own rollover is a month away.
        d.sh("configure terminal", f"crypto pki server {LABEL}", "auto-rollover 1", "end")
        d.sh("write memory")
        # The switch: the next CA is the CA. (Just past the expiry: the clients' clocks
        # are a day behind the server's now.) Killed at once, wherever the switch is, the
        # server finishes it when it starts again.
        d.set_clock(expiry + datetime.timedelta(seconds=2))
        d.kill()
        d.start()
        scep.port = wait_listening(d)
        wait_for(lambda: f"\n  CA cert fingerprint: {md5(new_ca)}" in d.show_server(),
                 timeout=20, what="the new CA certificate in force")
        wait_for(d.server_enabled, timeout=20, what="the server enabled again")
        status = d.show_server()
        assert "Rollover status" not in status, status
        timer = not_after(new_ca) - datetime.timedelta(days=1)
        assert "Autorollover timer: " + timer.strftime("%H:%M:%S UTC %b ") in status, status
        r = scep.get("operation=GetCACert")
        assert r.status == 200
        served = write(os.path.join(workdir, "served.der"), r.body, "wb")
        assert ossl("x509", "-inform", "DER", "-in", served, "-noout", "-fingerprint") == \
            ossl("x509", "-in", new_ca, "-noout", "-fingerprint")
        assert scep.get("operation=GetNextCACert").status == 404
        # After: new enrolments and renewals under the new CA.
        sw4 = StrongSwan(workdir, "sw4", scep.url, new_ca, 4)
        rc, out = sw4.run()
        assert rc == 0, out
        verify_at(new_ca, sw4.cert, after_switch)
        sw5 = StrongSwan(workdir, "sw1-after", scep.url, new_ca, 5,
                         dn="C=US, O=Example, CN=sw1")
        rc, out = sw5.run(old=sw2)
        assert rc == 0, out
        verify_at(new_ca, sw5.cert, after_switch)
        mdm2 = Micromdm(workdir, "mdm2", scep.url, key_index=6)
        rc, out = mdm2.run()
        assert rc == 0, out
        verify_at(new_ca, mdm2.cert, after_switch)
        # The CRL is the new CA's.
        r = scep.get("operation=GetCRL")
        crl = write(os.path.join(workdir, "crl.der"), r.body, "wb")
        ossl("crl", "-inform", "DER", "-in", crl, "-noout", "-CAfile", new_ca)
    finally:
        d.kill()


def test_subordinate_ca_and_ra_roll_over_with_the_root(workdir):
    """A root, a subordinate CA and an RA whose certificates all end with the root's: the
    subordinate's rollover is refused until the root has its rollover certificate, then
    granted at once (`grant auto rollover ca-cert`) under it; the RA's waits for the root's
    operator (no `grant auto rollover ra-cert`). Both fetch the root's next certificate
    (GetNextCACert), hand their own next chain out, and at the expiry all three switch;
    strongSwan then enrols at the subordinate CA and through the RA under the new chain."""
    from test_hierarchy import trustpoint_state
    from test_ra import Ra, approve_ra, verify_chain

    cleanup = []
    root = Daemon(os.path.join(workdir, "root"))
    cleanup.append(root)
    root.start()
    try:
        real_now = root.now()
        root.set_clock(real_now - datetime.timedelta(days=30, hours=1))
        scep = ScepServer(root, workdir).listen()
        scep.create_ca("grant auto", "lifetime certificate 1", "lifetime ca-certificate 31",
                       "grant auto rollover ca-cert")
        root.set_clock(real_now)
        old_root = scep.ca_pem()
        expiry = not_after(old_root)
        assert expiry - real_now < datetime.timedelta(hours=23, minutes=5), expiry

        # The subordinate CA, granted by the root's operator.
        sub = Daemon(os.path.join(workdir, "sub"))
        cleanup.append(sub)
        sub.start()
        sub.sh("configure terminal", "hostname sub", "ip http server", "ip http port 0",
               "ip http bind-address 127.0.0.1", "crypto pki trustpoint subca",
               f"enrollment url http://127.0.0.1:{scep.port}", "exit", "end")
        sub_port = wait_listening(sub)
        sub.sh("configure terminal", "crypto pki server subca",
               "database archive pkcs12 password cisco1234", "issuer-name CN=subca, O=Example",
               "grant auto", "mode sub-cs", "no shutdown", "yes", "end")
        scep.exec(f"grant {scep.wait_for_request('pending')[0]['id']}")
        sub.advance_clock(datetime.timedelta(minutes=2))
        wait_for(lambda: sub.server_enabled("subca"), timeout=30, what="the sub-CA enabled")
        old_sub = write(os.path.join(workdir, "old-sub.pem"),
                        trustpoint_state(sub, "subca")["certificate"])
        assert not_after(old_sub) == expiry

        # The RA, granted by the root's operator too.
        ra = Ra(workdir, cleanup, scep.port)
        ra.enable("grant auto", "scep allow-des")  # micromdm sends single DES
        old_ra = write(os.path.join(workdir, "old-ra.pem"), open(approve_ra(scep, ra)).read())
        assert not_after(old_ra) == expiry

        # The subordinate's timer fires; the root has no rollover certificate yet.
        sub.sh("configure terminal", "crypto pki server subca", "auto-rollover 2", "end")
        wait_for(lambda: "this CA must roll over first" in sub.log(), timeout=20,
                 what="the refusal of the root")
        assert "Rollover status" not in sub.show_server("subca")

        # The root rolls over; an hour later the subordinate asks again and is granted.
        root.sh("configure terminal", f"crypto pki server {LABEL}", "auto-rollover 31", "end")
        wait_for(lambda: "Rollover status: available for rollover" in root.show_server(),
                 timeout=20, what="the root's rollover certificate")
        sub.advance_clock(datetime.timedelta(minutes=61))
        wait_for(lambda: "Rollover status: available for rollover" in sub.show_server("subca"),
                 timeout=30, what="the sub-CA's rollover certificate")
        table = root.sh(f"crypto pki server {LABEL} info requests")
        section = table.split("Subordinate CA rollover certificate requests:")[1].split(
            "RA certificate requests:")[0]
        assert "granted" in section and "cn=subca" in section, table
        certs = sub.sh("show crypto pki certificates subca")
        assert "Certificate (subordinate CA certificate, Rollover)\n" in certs, certs
        assert "CA Certificate (Rollover)\n" in certs, certs
        assert "Rollover CA certificate configured:" in sub.sh(
            "show crypto pki trustpoints subca status")

        # Its GetNextCACert: signed by its current certificate, its next one and the root's.
        r = http_request(sub_port, "GET", f"{SCEP_PATH}?operation=GetNextCACert")
        assert r.status == 200, r.status
        nextder = write(os.path.join(workdir, "sub-next.der"), r.body, "wb")
        inner = os.path.join(workdir, "sub-inner.der")
        ossl("cms", "-verify", "-binary", "-inform", "DER", "-in", nextder, "-CAfile", old_root,
             "-certfile", old_sub, "-out", inner)
        bundle = os.path.join(workdir, "sub-next.pem")
        ossl("pkcs7", "-inform", "DER", "-in", inner, "-print_certs", "-out", bundle)
        pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n",
                          open(bundle).read(), re.S)
        assert len(pems) == 2, pems
        new_sub = write(os.path.join(workdir, "new-sub.pem"), pems[0])
        new_root = write(os.path.join(workdir, "new-root.pem"), pems[1])
        after_switch = expiry + datetime.timedelta(minutes=10)
        verify_at(new_root, new_sub, after_switch)
        assert md5(new_root) != md5(old_root)

        # Killed now, the subordinate comes back with its rollover certificate.
        sub.sh("write memory")
        sub.kill()
        sub.start()
        wait_for(lambda: sub.server_enabled("subca"), timeout=30, what="the sub-CA enabled")
        assert "Rollover status: available for rollover" in sub.show_server("subca")
        sub_port = wait_listening(sub)  # `ip http port 0`: another port since the restart

        # The RA's rollover waits for the root's operator, across a SIGKILL of the RA.
        ra.d.sh("configure terminal", "crypto pki server myra", "auto-rollover 2", "end")
        wait_for(lambda: "Rollover status: requested from the superior CA" in ra.show(),
                 timeout=20, what="the RA's rollover request")
        ra.d.sh("write memory")
        ra.d.kill()
        ra.d.start()
        ra.port = wait_listening(ra.d)
        wait_for(ra.enabled, timeout=30, what="the RA enabled")
        assert "Rollover status: requested from the superior CA" in ra.show()
        row = scep.wait_for_request("pending")[0]
        table = root.sh(f"crypto pki server {LABEL} info requests")
        section = table.split("RA rollover certificate requests:")[1].split("Router")[0]
        assert row["fingerprint"] in section, table
        scep.exec(f"grant {row['id']}")
        ra.d.advance_clock(datetime.timedelta(minutes=2))
        wait_for(lambda: "Rollover status: available for rollover" in ra.show(), timeout=30,
                 what="the RA's rollover certificate")

        # The switch, everywhere.
        for d in (root, sub, ra.d):
            d.set_clock(expiry + datetime.timedelta(seconds=2))
        wait_for(lambda: f"\n  CA cert fingerprint: {md5(new_root)}" in root.show_server(),
                 timeout=20, what="the root's new certificate")
        wait_for(lambda: f"\n  CA cert fingerprint: {md5(new_sub)}" in
                 sub.show_server("subca"), timeout=20, what="the sub-CA's new certificate")
        wait_for(lambda: sub.server_enabled("subca"), timeout=20, what="the sub-CA enabled")
        wait_for(lambda: "Rollover status" not in ra.show() and ra.enabled(), timeout=20,
                 what="the RA's new certificate")
        wait_for(root.server_enabled, timeout=20, what="the root enabled")
        status = sub.show_server("subca")
        assert f"Upper CA cert fingerprint: {md5(new_root)}" in status, status
        new_ra = ra.cert_pem()
        assert md5(new_ra) != md5(old_ra)
        verify_at(new_root, new_ra, after_switch)

        # After: a client of the subordinate CA, and one of the RA, under the new chain.
        url = f"http://127.0.0.1:{sub_port}{SCEP_PATH}"
        rc, out = pki_scepca(url, os.path.join(workdir, "bundle.pem"))
        assert rc == 0, out
        leaf = StrongSwan(workdir, "leaf", url, new_sub, 1)
        rc, out = leaf.run()
        assert rc == 0, out + sub.log()[-3000:]
        verify_chain(new_root, leaf.cert, [new_sub], at=after_switch)
        # (micromdm's scepclient: strongSwan checks the RA certificate against its own
        # clock, a day behind the servers' here, before the new one begins.)
        client = Micromdm(workdir, "ra-leaf", ra.url, key_index=2)
        rc, out = client.run()
        assert rc == 0, out + ra.d.log()[-3000:]
        verify_chain(new_root, client.cert, at=after_switch)
    finally:
        for d in cleanup:
            d.kill()
