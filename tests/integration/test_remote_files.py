"""Files on other machines, with real servers on 127.0.0.1 (file_servers.py): `copy`
to and from tftp, ftp, http (WebDAV PUT), sftp and scp, a live database copied out and
restored, and what an operator sees when a server is down, refuses the login, cannot be
written or is not the host it claims to be."""

import os
import sqlite3

import pytest

import file_servers
from conftest import make_csr

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
