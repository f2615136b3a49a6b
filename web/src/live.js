// Live updates: server-sent events from /api/v1/events when the server offers them, else
// the pending lists polled every 5 seconds (a new or vanished request counts as an event).
import { enc, get } from './api.js';

const POLL_MS = 5000;
const KINDS = ['request', 'certificate', 'crl', 'resync'];

// Calls on_event(kind, data) for each change; returns {stop()}.
export function start_live(on_event) {
  let stopped = false;
  let timer = null;
  let source = null;
  let opened = false;

  const poll = () => {
    let known = null;  // "label:id" of every pending request, after the first look
    const tick = async () => {
      if (stopped) return;
      try {
        const now = new Map();
        const { servers } = await get('/servers');
        for (const s of servers) {
          const { requests } = await get(`/servers/${enc(s.label)}/requests?state=pending&limit=500`);
          for (const r of requests) now.set(`${s.label}:${r.id}`, { server: s.label, id: r.id, state: r.state });
        }
        if (known) {
          for (const [key, data] of now) if (!known.has(key)) on_event('request', data);
          for (const [key, data] of known) {
            if (!now.has(key)) on_event('request', { ...data, state: 'done' });
          }
        }
        known = now;
      } catch (err) {
        // Logged out or unreachable: the next tick tries again (a 401 already led to login).
      }
      if (!stopped) timer = setTimeout(tick, POLL_MS);
    };
    tick();
  };

  if (typeof EventSource === 'function') {
    source = new EventSource('/api/v1/events');
    source.addEventListener('open', () => { opened = true; });
    for (const kind of KINDS) {
      source.addEventListener(kind, (ev) => {
        let data = {};
        try { data = JSON.parse(ev.data); } catch (err) { /* an event without JSON */ }
        on_event(kind, data);
      });
    }
    source.addEventListener('error', () => {
      // Never opened (no such resource here, or refused): poll instead. Once it worked,
      // EventSource reconnects by itself.
      if (!opened && !stopped) {
        source.close();
        source = null;
        poll();
      }
    });
  } else {
    poll();
  }
  return {
    stop() {
      stopped = true;
      if (source) source.close();
      if (timer) clearTimeout(timer);
    },
  };
}
