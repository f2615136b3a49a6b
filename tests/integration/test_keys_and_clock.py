"""The device around the certificate server: the clock (`clock set`, `show clock`), the
nvram: file system, and private keys at rest under the master passphrase."""

import datetime
import hashlib
import os
import re
import stat
import subprocess
import time

import pytest

from conftest import SCEPTERD, Daemon, clock_words, openssl, wait_for

SECOND = datetime.timedelta(seconds=1)

CLOCK = re.compile(r"^\*(\d\d):(\d\d):(\d\d)\.(\d\d\d) UTC (Sun|Mon|Tue|Wed|Thu|Fri|Sat) "
                   r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{1,2}) (\d{4})$")


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def test_show_clock_format(daemon):
    out = daemon.sh("show clock").strip()
    assert CLOCK.match(out), out
    before = utc_now()
    shown = daemon.now()
    after = utc_now()
    # the host's time while the command ran (shown in whole seconds)
    assert before - SECOND <= shown <= after


def test_clock_set_moves_the_server_clock_and_survives_restart(daemon):
    when = datetime.datetime(2031, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
    daemon.sh(f"clock set {clock_words(when)}")
    out = daemon.sh("show clock").strip()
    assert out.startswith("*05:06:") and out.endswith(" UTC Tue Mar 4 2031"), out
    # both argument orders of IOS
    start = time.monotonic()
    daemon.sh("clock set 05:06:07 Mar 4 2031")
    shown = daemon.now()
    # `when` at the clock set, plus at most the time since (whole seconds)
    elapsed = datetime.timedelta(seconds=time.monotonic() - start)
    assert when - SECOND <= shown <= when + elapsed + SECOND
    # the clock keeps running
    wait_for(lambda: daemon.now() > when + datetime.timedelta(seconds=1), what="clock ticks")
    daemon.restart()
    shown = daemon.now()
    elapsed = datetime.timedelta(seconds=time.monotonic() - start)
    assert when - SECOND <= shown <= when + elapsed + SECOND


@pytest.mark.parametrize("args", ["25:00:00 1 Jan 2030", "10:00:00 31 Feb 2030",
                                  "10:00:00 1 Foo 2030", "10:00:00 1 Jan 1992",
                                  "10:00:00 1 Jan 2036", "10:00 1 Jan 2030", "10:60:00 1 Jan 2030"])
def test_clock_set_rejects_bad_dates(daemon, args):
    start = time.monotonic()
    before = daemon.now()
    out = daemon.sh(f"clock set {args}", ok=False)
    assert "% Invalid input detected at '^' marker." in out or "% Incomplete command." in out
    after = daemon.now()
    elapsed = datetime.timedelta(seconds=time.monotonic() - start)
    assert before <= after <= before + elapsed + SECOND  # not moved


def test_dir_nvram(daemon):
    daemon.create_ca()
    daemon.sh("write memory")
    out = daemon.sh("dir nvram:")
    assert out.startswith("Directory of nvram:/\n")
    for name in ("startup-config", "mycs.ser", "mycs.crl", "mycs.p12", "mycs#1CA.cer"):
        assert re.search(rf"(?m)^\s+\d+\s+\S+\s+\d+\s.*\s{re.escape(name)}$", out), (name, out)
    size = os.path.getsize(daemon.path("mycs#1CA.cer"))
    assert re.search(rf"(?m)\s{size}\s.*mycs#1CA\.cer$", out)
    assert re.search(r"(?m)^\d+ bytes total \(\d+ bytes free\)$", out)


def test_private_keys_are_encrypted_at_rest(daemon):
    daemon.create_ca()
    keydir = daemon.path("private-keys")
    assert stat.S_IMODE(os.stat(keydir).st_mode) & 0o077 == 0
    files = os.listdir(keydir)
    assert "mycs.key" in files
    for name in files:
        path = os.path.join(keydir, name)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, name
        text = open(path).read()
        assert "BEGIN RSA PRIVATE KEY" not in text and "BEGIN PRIVATE KEY" not in text
        assert "BEGIN ENCRYPTED PRIVATE KEY" in text
    # it opens with the master passphrase and is the CA's key
    path = os.path.join(keydir, "mycs.key")
    rc, key_mod = openssl("rsa", "-in", path, "-passin",
                          "pass:integration-master-passphrase", "-noout", "-modulus")
    assert rc == 0, key_mod
    rc, cert_mod = openssl("x509", "-in", daemon.ca_pem_file(), "-noout", "-modulus")
    assert key_mod.strip() == cert_mod.strip()
    rc, _ = openssl("rsa", "-in", path, "-passin", "pass:wrong", "-noout")
    assert rc != 0


def test_generated_master_passphrase_in_private_config(workdir):
    d = Daemon(workdir)
    del d.env["SCEPTER_PASSWORD"]
    d.start()
    try:
        path = d.path("private-config")
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert len(open(path).read().strip()) >= 32
        assert "generated one in " + path in d.log()
        d.create_ca("grant auto")
        d.sh("write memory")
        fingerprint = re.search(r"fingerprint: (.*)", d.show_server()).group(1)
        d.restart()  # the same passphrase is read back
        assert re.search(r"fingerprint: (.*)", d.show_server()).group(1) == fingerprint
        assert "Status: enabled" in d.show_server()
        assert "master passphrase from " + path in d.log()
        passphrase = open(path).read().strip()
        rc, out = openssl("pkey", "-in", d.path("private-keys/mycs.key"), "-passin",
                          "pass:" + passphrase, "-noout")
        assert rc == 0, out
    finally:
        d.kill()


def test_password_file(workdir):
    d = Daemon(workdir)
    del d.env["SCEPTER_PASSWORD"]
    pwfile = os.path.join(workdir, "master.txt")
    with open(pwfile, "w") as f:
        f.write("from-a-file-1234\n")
    d.start(extra=["--password-file", pwfile])
    try:
        d.create_ca()
        assert not os.path.exists(d.path("private-config"))
        rc, out = openssl("pkey", "-in", d.path("private-keys/mycs.key"), "-passin",
                          "pass:from-a-file-1234", "-noout")
        assert rc == 0, out
    finally:
        d.kill()


def test_wrong_master_passphrase_is_reported(daemon):
    daemon.create_ca()
    daemon.sh("write memory")
    daemon.stop()
    daemon.env["SCEPTER_PASSWORD"] = "not-the-master-passphrase"
    p = subprocess.run([SCEPTERD, "--nvram", daemon.nvram, "--socket", daemon.socket],
                       env=daemon.env, capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "cannot decrypt key mycs with the master passphrase" in p.stdout + p.stderr
    # nothing was damaged: the right passphrase still works
    daemon.env["SCEPTER_PASSWORD"] = "integration-master-passphrase"
    daemon.start()
    assert "Status: enabled" in daemon.show_server()


def test_operator_key_becomes_the_ca_key(daemon):
    daemon.sh("configure terminal",
              "crypto key generate rsa general-keys label mycs modulus 2048 exportable", "end")
    before = open(daemon.path("private-keys/mycs.key")).read()
    out = daemon.create_ca(archive_password=None)  # asks for the archive passphrase
    assert "% Generating" not in out  # the existing key is used
    assert "Password:" in out
    assert open(daemon.path("private-keys/mycs.key")).read() == before
    rc, key_mod = openssl("pkcs12", "-in", daemon.path("mycs.p12"), "-passin",
                          "pass:prompt-pass1", "-nocerts", "-nodes")
    assert rc == 0, key_mod


def test_non_exportable_operator_key_is_not_archived(daemon):
    daemon.sh("configure terminal", "crypto key generate rsa general-keys label mycs modulus 2048",
              "end")
    out = daemon.sh("configure terminal", "crypto pki server mycs", "no shutdown", "yes", "end")
    assert "Password:" not in out  # nothing to protect: no passphrase is asked for
    assert "% The CA key was not archived: the key mycs is not exportable." in out
    assert "% Certificate Server enabled." in out
    assert not os.path.exists(daemon.path("mycs.p12"))


def test_ca_key_cannot_be_zeroized_while_the_server_runs(daemon):
    daemon.create_ca()
    out = daemon.sh("configure terminal", "crypto key zeroize rsa mycs", "yes", "end", ok=False)
    assert "in use by certificate server mycs" in out
    assert os.path.exists(daemon.path("private-keys/mycs.key"))
    assert "Status: enabled" in daemon.show_server()


def test_server_trustpoint_holds_the_ca_certificate(daemon):
    daemon.create_ca()
    out = daemon.sh("show crypto pki trustpoints mycs status")
    fp = " ".join(hashlib.md5(daemon.ca_der()).hexdigest().upper()[i:i + 8]
                  for i in range(0, 32, 8))
    assert f"Fingerprint MD5: {fp}" in out
    cfg = daemon.sh("show running-config")
    assert "crypto pki trustpoint mycs\n" in cfg and " rsakeypair mycs\n" in cfg
