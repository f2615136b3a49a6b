"""`/metrics`: what a strongSwan enrolment, a revocation and a pending request show there,
checked by `promtool check metrics` (Prometheus's own linter) and scraped by a real
`prometheus` on 127.0.0.1; `no ip http metrics`; labels a client cannot make up."""

import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from conftest import LABEL, make_csr, wait_for, write
from scep_helpers import ScepServer, StrongSwan, cert_serial_of, http_request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


@pytest.fixture
def scep(daemon, workdir):
    return ScepServer(daemon, workdir).listen()


def scrape(scep):
    r = http_request(scep.port, "GET", "/metrics")
    assert r.status == 200, r.body
    assert r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    return r.body.decode()


def samples(text):
    """{'name{labels}': value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, line
        out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def promtool_check(text):
    p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_an_enrolment_a_revocation_and_a_pending_request(scep, workdir):
    scep.create_ca("grant auto")
    c = StrongSwan(workdir, "sw1", scep.url, scep.ca_pem(), 0)
    rc, out = c.run()
    assert rc == 0, out
    serial = cert_serial_of(c.cert)
    scep.exec(f"revoke {serial}")
    # A PKIOperation that is not one, and an operation and a path nobody knows.
    assert http_request(scep.port, "POST", "/cgi-bin/pkiclient.exe?operation=PKIOperation",
                        body=b"junk").status == 400
    assert scep.get("operation=MadeUp").status in (400, 404)
    assert http_request(scep.port, "GET", "/made/up/path").status == 404

    text = scrape(scep)
    promtool_check(text)
    s = samples(text)
    assert s[f'scepter_certificates_issued_total{{ca="{LABEL}"}}'] == 1
    assert s[f'scepter_certificates_revoked_total{{ca="{LABEL}"}}'] == 1
    assert s[f'scepter_ca_state{{ca="{LABEL}",state="enabled"}}'] == 1
    assert s[f'scepter_ca_state{{ca="{LABEL}",state="disabled"}}'] == 0
    assert s[f'scepter_crl_entries{{ca="{LABEL}"}}'] == 1
    assert s[f'scepter_crl_size_bytes{{ca="{LABEL}"}}'] > 300
    assert 0 <= s[f'scepter_crl_age_seconds{{ca="{LABEL}"}}'] < 120
    assert s[f'scepter_crl_next_update_timestamp_seconds{{ca="{LABEL}"}}'] > time.time()
    assert s[f'scepter_ca_certificate_not_after_timestamp_seconds{{ca="{LABEL}"}}'] > time.time()
    assert s[f'scepter_ca_certificates{{ca="{LABEL}"}}'] >= 1
    assert s[f'scepter_ca_requests_pending{{ca="{LABEL}"}}'] == 0
    # strongSwan asks GetCACaps, then sends its PKCSReq.
    assert s['scepter_http_requests_total{protocol="scep",operation="PKIOperation",code="200"}'] == 1
    assert s['scepter_http_requests_total{protocol="scep",operation="PKIOperation",code="400"}'] == 1
    assert s['scepter_http_requests_total{protocol="scep",operation="GetCACaps",code="200"}'] >= 1
    assert s['scepter_http_requests_total{protocol="other",operation="other",code="404"}'] == 1
    assert any(k.startswith('scepter_http_requests_total{protocol="scep",operation="other"')
               for k in s), s
    assert not any("MadeUp" in k or "made" in k for k in s)
    assert s['scepter_http_request_duration_seconds_count{protocol="scep",operation="PKIOperation"}'] == 2
    assert s['scepter_scep_replies_total{message_type="PKCSReq",pki_status="SUCCESS",fail_info="none"}'] == 1
    # One certificate signed for the client (and the CA's own services: at least one),
    # one envelope decrypted, one reply signed, and the CRLs.
    assert s['scepter_key_operation_duration_seconds_count{operation="decrypt",object="SCEP request"}'] == 1
    assert s['scepter_key_operation_duration_seconds_count{operation="sign",object="SCEP reply"}'] == 1
    assert s['scepter_key_operation_duration_seconds_count{operation="sign",object="certificate"}'] >= 1
    assert s['scepter_key_operation_duration_seconds_count{operation="sign",object="CRL"}'] >= 2
    assert s['scepter_store_commit_duration_seconds_count{engine="sqlite"}'] >= 2
    assert s['scepter_http_connections_accepted_total{listener="http"}'] >= 4
    assert s['scepter_http_requests_refused_total{listener="http",reason="rate_limited"}'] == 0
    assert s['scepter_build_info{version="0.1.0"}'] == 1
    assert s["process_start_time_seconds"] <= time.time()

    # A request waiting for the operator: counted once the kept counts are renewed (at
    # most every 15 s), without a query per scrape.
    scep.d.sh("configure terminal", f"crypto pki server {LABEL}", "no grant auto", "end")
    scep.d.submit(make_csr(workdir, "manual", "/CN=manual", key="shared"))
    wait_for(lambda: samples(scrape(scep))[f'scepter_ca_requests_pending{{ca="{LABEL}"}}'] == 1,
             timeout=30, what="the pending request in /metrics")


ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def documented_metrics():
    """The metric names of the user guide's tables (docs/user-guide.md, "Metrics")."""
    with open(os.path.join(ROOT, "docs", "user-guide.md")) as f:
        guide = f.read()
    section = guide[guide.index("### Metrics"):guide.index("## 7. Certificate server")]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))


def test_the_guide_and_the_dashboard_name_what_is_served(scep, workdir):
    """Every metric served is in the user guide, and the Grafana dashboard uses only
    metrics the guide lists."""
    scep.create_ca("grant auto")
    served = set(re.findall(r"^# TYPE (\S+) ", scrape(scep), re.M))
    documented = documented_metrics()
    assert served - documented == set(), "served but not in the user guide"
    assert len(served) >= 20, served
    with open(os.path.join(ROOT, "contrib", "grafana", "scepter-dashboard.json")) as f:
        dashboard = json.load(f)
    used = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= set(re.findall(r"\b(scepter_[a-z_]+|process_[a-z_]+)", target["expr"]))
    used = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    assert used, dashboard
    assert used - documented == set(), "used by the dashboard but not in the user guide"


def test_no_ip_http_metrics(scep):
    scep.create_ca()
    scep.d.sh("configure terminal", "no ip http metrics", "end")
    assert http_request(scep.port, "GET", "/metrics").status == 404
    assert "\nno ip http metrics\n" in scep.d.sh("show running-config")
    assert "HTTP metrics (/metrics): Disabled" in scep.d.sh("show ip http server status")
    scep.d.sh("configure terminal", "ip http metrics", "end")
    assert "scepter_ca_state" in scrape(scep)
    assert http_request(scep.port, "POST", "/metrics", body=b"x").status == 405


def prometheus_query(port, query):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as r:
        answer = json.load(r)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_a_real_prometheus_scrapes_it(scep, workdir, reserved_port):
    scep.create_ca("grant auto")
    config = write(f"{workdir}/prometheus.yml", f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: scepterd
    static_configs:
      - targets: ['127.0.0.1:{scep.port}']
""")
    log = open(f"{workdir}/prometheus.log", "w")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir}/tsdb",
         f"--web.listen-address=127.0.0.1:{reserved_port}", "--log.level=warn"],
        stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        def scraped():
            try:
                up = prometheus_query(reserved_port, 'up{job="scepterd"}')
                info = prometheus_query(reserved_port, "scepter_build_info")
            except OSError:
                return None
            return up and info and up[0]["value"][1] == "1"
        wait_for(scraped, timeout=60, what="prometheus to scrape scepterd")
        enabled = prometheus_query(reserved_port, f'scepter_ca_state{{ca="{LABEL}",state="enabled"}}')
        assert enabled and enabled[0]["value"][1] == "1", enabled
        # Its own scrapes are counted as requests to /metrics.
        wait_for(lambda: prometheus_query(
            reserved_port, 'scepter_http_requests_total{protocol="metrics",code="200"}'),
            timeout=30, what="the scrapes counted")
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=20)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
        assert "level=error" not in open(f"{workdir}/prometheus.log").read()
