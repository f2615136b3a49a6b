"""A real DNS resolver for the ACME end-to-end tests: Debian's unbound serving one static
zone on 127.0.0.1 at a free port, whose records tests change while it runs (through
unbound-control on a Unix socket). The same as src/acme/unbound_testing.h.

In a test:
    with Unbound("example.test.", ["a.example.test. A 127.0.0.1"]) as dns:
        dns.add_txt("_acme-challenge.a.example.test.", value)
        ... acme validation resolver = dns.resolver ...

As lego's exec DNS provider (EXEC_PATH), with the server's config in the environment:
    ACME_DNS_UNBOUND_CONF=<dns.conf> EXEC_PATH="python3 .../acme_dns.py" lego --dns exec ...
lego runs "acme_dns.py present <fqdn> <value>" and "acme_dns.py cleanup <fqdn> <value>".
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def _program(name):
    for d in ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/sbin"):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def _free_port():
    """A port free for UDP and TCP on 127.0.0.1 just now."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free port")


def control(conf, *args):
    """Runs unbound-control against the server of `conf`; raises on failure."""
    out = subprocess.run([_program("unbound-control"), "-c", conf, *args],
                         capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        raise RuntimeError(f"unbound-control {' '.join(args)}: {out.stdout}{out.stderr}")
    return out.stdout


def _fqdn(name):
    return name if name.endswith(".") else name + "."


class Unbound:
    def __init__(self, zone="example.test.", records=()):
        self.zone = _fqdn(zone)
        self.records = list(records)
        self.dir = None
        self.proc = None
        self.port = None

    @property
    def conf(self):
        return os.path.join(self.dir, "unbound.conf")

    @property
    def resolver(self):
        """For `acme resolver`: "127.0.0.1:PORT"."""
        return f"127.0.0.1:{self.port}"

    def start(self):
        if not _program("unbound"):
            raise RuntimeError("unbound is not installed")
        self.dir = tempfile.mkdtemp(prefix="scepter-unbound-")
        self.port = _free_port()
        lines = [
            "server:",
            "  interface: 127.0.0.1",
            f"  port: {self.port}",
            "  do-daemonize: no", "  use-syslog: no", '  chroot: ""', '  username: ""',
            f'  directory: "{self.dir}"', '  pidfile: ""', '  logfile: ""', "  verbosity: 1",
            "  do-ip6: no", '  module-config: "iterator"',
            f'  local-zone: "{self.zone}" static',
        ]
        lines += [f'  local-data: "{r}"' for r in self.records]
        lines += ["remote-control:", "  control-enable: yes",
                  f"  control-interface: {self.dir}/ctl.sock", "  control-use-cert: no"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.log = open(os.path.join(self.dir, "unbound.log"), "w")
        self.proc = subprocess.Popen([_program("unbound"), "-d", "-c", self.conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                control(self.conf, "status")
                return self
            except RuntimeError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("unbound did not start")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def add(self, record):
        """One record in unbound's local-data form: 'a.example.test. 1 IN A 127.0.0.1'."""
        control(self.conf, "local_data", record)

    def add_txt(self, name, value, ttl=1):
        add_txt(self.conf, name, value, ttl)

    def remove(self, name):
        """Every record of `name`."""
        control(self.conf, "local_data_remove", _fqdn(name))


def add_txt(conf, name, value, ttl=1):
    # unbound keeps each TXT record of a name; values are base64url, needing no escapes.
    control(conf, "local_data", f'{_fqdn(name)} {ttl} IN TXT "{value}"')


def main(argv):
    """lego's exec provider: present|cleanup FQDN VALUE."""
    conf = os.environ.get("ACME_DNS_UNBOUND_CONF")
    if not conf or len(argv) < 3 or argv[0] not in ("present", "cleanup", "timeout"):
        print("usage: ACME_DNS_UNBOUND_CONF=conf acme_dns.py present|cleanup FQDN VALUE",
              file=sys.stderr)
        return 2
    if argv[0] == "present":
        add_txt(conf, argv[1], argv[2])
    elif argv[0] == "cleanup":
        control(conf, "local_data_remove", _fqdn(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
