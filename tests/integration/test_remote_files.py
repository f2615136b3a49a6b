"""Files on other machines, with real servers on 127.0.0.1 (file_servers.py): `copy`
and `delete` with tftp, ftp, http(s) (WebDAV PUT and DELETE), sftp and scp, a live database copied out and
restored, and what an operator sees when a server is down, refuses the login, cannot be
written or is not the host it claims to be."""

import os
import sqlite3

import pytest

import file_servers
from conftest import make_csr, wait_for

pytestmark = pytest.mark.skipif(not file_servers.binaries_present(),
                                reason="vsftpd, tftpd-hpa, nginx and openssh-server are needed")


@pytest.fixture
def servers():
    """Starts file servers by scheme on first use; stops and removes them all after."""
    started = {}

    def get(scheme):
        if scheme not in started:
            started[scheme] = file_servers.SERVERS[scheme]().start()
        return started[scheme]

    yield get
    for s in started.values():
        s.remove()


def trust_ssh(daemon, server):
    with open(daemon.path("ssh_known_hosts"), "w") as f:
        f.write(server.known_hosts())


def flash_file(daemon, name, data):
    path = os.path.join(daemon.root, "flash", name)
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.mark.parametrize("scheme", ["tftp", "ftp", "http", "sftp", "scp"])
def test_copy_to_and_from_each_kind_of_server(daemon, servers, scheme):
    server = servers("sftp" if scheme == "scp" else scheme)
    if scheme in ("sftp", "scp"):
        trust_ssh(daemon, server)
    data = os.urandom(70000)  # several tftp blocks, several writes
    flash_file(daemon, "blob.bin", data)
    login = scheme != "tftp"
    # tftp and scp cannot make directories; the others make what is missing.
    name = "blob.bin" if scheme in ("tftp", "scp") else "sub/blob.bin"
    remote = server.url(name, login=login, scheme=scheme)
    out = daemon.sh(f"copy flash:blob.bin {remote}", "")
    assert "Destination filename [blob.bin]? " in out
    assert "70000 bytes copied in" in out, out
    assert server.read(name) == data
    assert file_servers.PASSWORD not in out

    out = daemon.sh(f"copy {remote} flash:", "back.bin")
    assert "70000 bytes copied in" in out, out
    with open(os.path.join(daemon.root, "flash", "back.bin"), "rb") as f:
        assert f.read() == data
    # No leftovers beside either copy.
    assert sorted(os.listdir(os.path.join(daemon.root, "flash"))) == ["back.bin", "blob.bin"]
    if scheme == "ftp":
        assert sorted(os.listdir(server.path("sub"))) == ["blob.bin"]
        # A name that must be percent-encoded, through the temporary name and the rename.
        out = daemon.sh(f"copy flash:blob.bin {server.url('sub/my%20blob.bin', login=True)}", "")
        assert "70000 bytes copied in" in out, out
        assert sorted(os.listdir(server.path("sub"))) == ["blob.bin", "my blob.bin"]

    # delete: ftp, http and sftp delete; tftp and scp cannot, and say so.
    out = daemon.sh(f"delete {remote}", "", "", ok=scheme not in ("tftp", "scp"))
    assert "Delete filename [blob.bin]? " in out and "[confirm]" in out, out
    if scheme in ("tftp", "scp"):
        assert f"{scheme} cannot delete files" in out, out
        assert server.read(name) == data
    else:
        assert "%Error" not in out, out
        assert not os.path.exists(server.path(name))
        out = daemon.sh(f"delete /force {remote}", "", ok=False)
        assert "no such file" in out, out


def test_an_https_server_with_a_private_ca_is_trusted_only_through_nvram(daemon, servers):
    https = servers("https")
    flash_file(daemon, "c.bin", b"y" * 5000)
    remote = https.url("pub/c.bin", login=True)
    # Not in the system's trust store: refused, with where its CA goes.
    out = daemon.sh(f"copy flash:c.bin {remote}", "", ok=False)
    assert "not trusted by the system's CAs" in out and "https_ca_certificates.pem" in out, out
    assert not os.path.exists(https.path("pub/c.bin"))
    # Its CA in nvram: the copy goes through, and back.
    with open(https.ca_pem) as src, open(daemon.path("https_ca_certificates.pem"), "w") as dst:
        dst.write(src.read())
    out = daemon.sh(f"copy flash:c.bin {remote}", "")
    assert "5000 bytes copied in" in out, out
    assert https.read("pub/c.bin") == b"y" * 5000
    out = daemon.sh(f"copy {remote} flash:", "d.bin")
    assert "5000 bytes copied in" in out, out
    # Another CA in the file: refused again.
    other = file_servers.HttpsServer()
    try:
        with open(other.ca_pem) as src, \
                open(daemon.path("https_ca_certificates.pem"), "w") as dst:
            dst.write(src.read())
    finally:
        other.remove()
    out = daemon.sh(f"copy flash:c.bin {remote}", "", ok=False)
    assert "not trusted by the CAs in" in out, out


def test_what_goes_wrong_is_said_and_nothing_is_left_half_done(daemon, servers):
    ftp = servers("ftp")
    http = servers("http")
    ssh = servers("sftp")
    flash_file(daemon, "a.bin", b"x" * 1000)

    # A wrong password, over ftp, http and sftp.
    bad = ftp.url("a.bin", login=False).replace("ftp://", f"ftp://{file_servers.USER}:wrong@")
    out = daemon.sh(f"copy flash:a.bin {bad}", "", ok=False)
    assert "login denied" in out and "wrong" not in out, out
    bad = http.url("a.bin").replace("http://", f"http://{file_servers.USER}:wrong@")
    out = daemon.sh(f"copy flash:a.bin {bad}", "", ok=False)
    assert "HTTP 401" in out, out

    # An ssh server whose host key is not known is not trusted, login or not.
    out = daemon.sh(f"copy flash:a.bin {ssh.url('a.bin', login=True)}", "", ok=False)
    assert "ssh_known_hosts" in out and "ssh-keyscan" in out, out
    assert not os.path.exists(ssh.path("a.bin"))
    trust_ssh(daemon, ssh)
    bad = ssh.url("a.bin").replace("sftp://", f"sftp://{file_servers.USER}:wrong@")
    out = daemon.sh(f"copy flash:a.bin {bad}", "", ok=False)
    assert "%Error copying" in out, out

    # A file that is not there, and a server that is not there.
    out = daemon.sh(f"copy {ftp.url('missing.bin', login=True)} flash:", "", ok=False)
    assert "no such file" in out, out
    assert not os.path.exists(os.path.join(daemon.root, "flash", "missing.bin"))
    ftp.stop()
    out = daemon.sh(f"copy {ftp.url('a.bin', login=True)} flash:b.bin", "", ok=False)
    assert "%Error opening ftp://" in out and "*@127.0.0.1" in out, out
    assert file_servers.PASSWORD not in out

    # A target the server may not write.
    http.set_read_only(True)
    out = daemon.sh(f"copy flash:a.bin {http.url('ro/a.bin', login=True)}", "", ok=False)
    assert "%Error copying" in out, out
    http.set_read_only(False)
    assert sorted(os.listdir(os.path.join(daemon.root, "flash"))) == ["a.bin"]


def test_a_live_database_is_copied_out_consistently_and_restored(daemon, servers, workdir):
    """The seed's backup of `.ser` to a file server while the CA issues, then its restore
    over a shut-down server's database."""
    ftp = servers("ftp")
    daemon.create_ca("grant auto")
    for i in range(3):
        daemon.submit(make_csr(workdir, f"d{i}", f"/CN=device{i}.example.com"))
    out = daemon.sh(f"copy nvram:mycs.ser {ftp.url('backup/', login=True)}", "")
    assert "bytes copied in" in out, out
    backup = ftp.path("backup/mycs.ser")
    db = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    db.close()
    assert not [n for n in os.listdir(daemon.nvram) if ".snapshot" in n]

    # Issued after the backup: gone once the backup is restored.
    daemon.submit(make_csr(workdir, "late", "/CN=late.example.com"))
    assert "0x5" in daemon.show_server()
    out = daemon.sh(f"copy {ftp.url('backup/mycs.ser', login=True)} nvram:", "", "", ok=False)
    assert "which is not shut down" in out, out
    daemon.cs("shutdown")
    out = daemon.sh(f"copy {ftp.url('backup/mycs.ser', login=True)} nvram:", "", "y")
    assert "Do you want to over write?" in out and "bytes copied in" in out, out
    daemon.cs("no shutdown")
    show = daemon.show_server()
    assert "Last certificate issued serial number: 0x4" in show, show


def crl_serials(der):
    """The revoked serial numbers listed by a DER CRL, as ints."""
    from cryptography import x509
    return sorted(r.serial_number for r in x509.load_der_x509_crl(der))


def test_the_seeds_split_database_with_real_servers(daemon, servers, workdir):
    """The seed's example: critical files on a remote primary location (ftp, with a
    login), the database in nvram:, the CRL also published to a second server (http, with
    its own login); then each server fails and comes back while the CA issues."""
    ftp = servers("ftp")
    http = servers("http")
    user, pw = file_servers.USER, file_servers.PASSWORD
    daemon.create_ca(f"database url {ftp.url()} username {user} password {pw}",
                     "database url ser nvram:",
                     f"database url crl publish {http.url('crl/')} username {user} password {pw}",
                     "database level names", "grant auto")
    config = daemon.sh("show running-config")
    assert pw not in config
    assert f" database url {ftp.url()} username {user} password 7 " in config, config
    assert f" database url crl publish {http.url('crl/')} username {user} password 7 " in config
    show = daemon.show_server()
    assert f"Current primary storage dir: {ftp.url()}\n" in show, show
    assert "Current storage dir for .ser files: nvram:\n" in show, show
    # The critical files are on the ftp server at once; the database stays local.
    assert os.path.exists(daemon.path("mycs.ser"))
    assert not os.path.exists(ftp.path("mycs.ser"))
    assert crl_serials(ftp.read("mycs.crl")) == []
    assert ftp.read("mycs.p12")[:1] == b"\x30"
    wait_for(lambda: os.path.exists(http.path("crl/mycs.crl")), what="the published CRL")

    for i in range(2):
        daemon.submit(make_csr(workdir, f"d{i}", f"/CN=device{i}.example.com"))
    wait_for(lambda: os.path.exists(ftp.path("3.cnm")), what="the .cnm files on the ftp server")
    assert b"subject=cn=device0.example.com" in ftp.read("2.cnm").lower()

    # The publish server is down: revoking and issuing go on, the copy waits and says why.
    http.stop()
    daemon.sh("crypto pki server mycs revoke 2")
    daemon.submit(make_csr(workdir, "d2", "/CN=device2.example.com"))
    assert crl_serials(ftp.read("mycs.crl")) == [2]
    # (The new certificate's .cnm goes to the ftp server meanwhile.)
    publish = lambda: daemon.sh("show crypto pki server mycs publish")  # noqa: E731
    wait_for(lambda: "Last error: cannot write http://" in publish() and
             "  1 file waiting" in publish(), what="the publish error in show")
    assert "State: enabled" in daemon.show_server()
    assert "publish" not in daemon.show_server().lower()  # IOS's lines only there
    assert os.path.exists(ftp.path("4.cnm"))
    # It stays queued across a restart and goes out once the server is back.
    daemon.sh("write memory")
    daemon.restart()
    http.start()
    wait_for(lambda: os.path.exists(http.path("crl/mycs.crl")) and
             crl_serials(http.read("crl/mycs.crl")) == [2], timeout=30,
             what="the CRL published after the server came back")
    wait_for(lambda: "  0 files waiting" in publish(), what="an empty publish queue")

    # The critical location is down: the server stops issuing and says why, then comes
    # back by itself when the server is back.
    ftp.stop()
    out = daemon.sh("crypto pki server mycs revoke 3", ok=False)
    assert "CRL could not be written" in out, out
    ftp.start()
    wait_for(lambda: "State: enabled" in daemon.show_server() and
             crl_serials(ftp.read("mycs.crl")) == [2, 3], timeout=90,
             what="the server enabled again with the CRL written")


def test_a_remote_main_database_is_refused_with_the_way_out(daemon, servers):
    ftp = servers("ftp")
    out = daemon.cs("database archive pkcs12 password cisco1234",
                    f"database url {ftp.url()} username {file_servers.USER} password x",
                    "no shutdown", "yes", ok=None)
    assert "the main database (.ser) cannot be on ftp://" in out, out
    show = daemon.show_server()
    assert "the main database (.ser) cannot be on ftp://" in show, show
    assert 'database url ser nvram:' in show
    out = daemon.cs(f"database url ftp://u:secret@127.0.0.1/x", ok=False)
    assert "not in the URL" in out and "secret" not in out, out
