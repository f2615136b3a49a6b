"""GET /api/v1/events against a real scepterd: a browser-like client holds the event
stream open over TLS with the session cookie while strongSwan's `pki --scep` enrols, an
operator grants the request and revokes the certificate through the API; each change
shows on the stream as it happens."""

import http.client
import json
import queue
import threading

from conftest import LABEL
from scep_helpers import StrongSwan
from test_api import ADMIN_PASSWORD, api  # noqa: F401 (the fixture)


class EventReader:
    """Reads server-sent events from an open response on a thread; next() waits for the
    next event that matches."""

    def __init__(self, response):
        self.response = response
        self.events = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        fields = {}
        try:
            while True:
                line = self.response.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if "data" in fields:
                        self.events.put(fields)
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
        except (OSError, ValueError):
            pass
        self.events.put(None)  # the stream ended

    def next(self, kind, state, timeout=30):
        """The next event of `kind` in `state`, skipping others."""
        while True:
            e = self.events.get(timeout=timeout)
            assert e is not None, f"the stream ended before {kind} {state}"
            data = json.loads(e["data"])
            assert e["event"] == data["kind"] and int(e["id"]) == data["sequence"], e
            if data["kind"] == kind and data.get("state") == state:
                return data


def test_the_stream_shows_enrolment_grant_revocation_and_crl(api, workdir):  # noqa: F811
    token = api.api.login("admin", ADMIN_PASSWORD)
    conn = http.client.HTTPSConnection("127.0.0.1", api.api.port, timeout=60,
                                       context=api.api.context())
    # As an EventSource sends it: the cookie, no CSRF token.
    conn.request("GET", "/api/v1/events", headers={"Cookie": f"scepter_session={token}",
                                                    "Accept": "text/event-stream"})
    r = conn.getresponse()
    assert r.status == 200
    assert r.getheader("Content-Type") == "text/event-stream"
    assert r.getheader("Cache-Control") == "no-store"
    assert r.getheader("Content-Length") is None
    events = EventReader(r)

    client = StrongSwan(workdir, "sw1", api.url, api.ca_pem(), 0).start(poll=60)
    try:
        pending = events.next("request", "pending")
        assert pending["server"] == LABEL
        rid = pending["id"]
        granted = api.api.call("POST", f"/servers/{LABEL}/requests/{rid}/grant", token=token)
        assert granted.status == 200, granted.body
        assert events.next("request", "granted")["id"] == rid
        issued = events.next("certificate", "issued")
        rc, out = client.finish()
    finally:
        if client._proc.poll() is None:
            client._proc.kill()
    assert rc == 0, out

    serial = issued["id"]
    revoked = api.api.call("POST", f"/servers/{LABEL}/certificates/0x{serial}/revoke",
                           {"reason": "keyCompromise"}, token=token)
    assert revoked.status == 200, revoked.body
    assert events.next("certificate", "revoked")["id"] == serial
    events.next("crl", "published")

    # Logging out ends the stream at its next heartbeat; the test does not wait for it.
    assert api.api.call("DELETE", "/session", token=token).status == 200
    conn.close()
