// The Scepter web console: hash routes over the REST API at /api/v1.
//   #/login  #/ (dashboard)  #/pending  #/certificates
import { ApiError, call, del, enc, get, post, set_csrf, when_unauthorized } from './api.js';
import { h, table, when } from './dom.js';
import { start_live } from './live.js';

const REASONS = [
  'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded',
  'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise',
];
const PAGE = 20;

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const status_region = document.getElementById('status');
let user = null;
let live = null;
const recent = [];  // the latest live events, newest first

// Says something in the aria-live region (read out by screen readers, shown on screen).
function announce(text, error) {
  status_region.textContent = text;
  status_region.classList.toggle('error', !!error);
}

function show(title, ...content) {
  document.title = `${title} — Scepter console`;
  main.replaceChildren(h('h1', {}, title), ...content);
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

when_unauthorized(() => {
  user = null;
  set_csrf('');
  announce('Your session has ended. Please log in again.', true);
  go('#/login');
});

// --- confirmation dialog --------------------------------------------------------------

const dialog = document.getElementById('confirm');
// Asks; resolves true when the operator confirms. `extra` (a form field) goes in the dialog.
function confirm_action(title, text, ok_label, extra) {
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = ok_label;
  document.getElementById('confirm-extra').replaceChildren(...(extra ? [extra] : []));
  const before = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      if (before && before.focus) before.focus();
      resolve(dialog.returnValue === 'ok');
    }, { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    (extra ? dialog.querySelector('select, input') : document.getElementById('confirm-cancel'))
      .focus();
  });
}

// --- login ----------------------------------------------------------------------------

function login_page() {
  nav.hidden = true;
  const error = h('p', { id: 'login-error', class: 'error', role: 'alert' });
  const form = h('form', { id: 'login', class: 'card narrow', 'aria-describedby': 'login-error' },
    h('label', { for: 'username' }, 'Username'),
    h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true }),
    h('label', { for: 'password' }, 'Password'),
    h('input', {
      id: 'password', name: 'password', type: 'password', autocomplete: 'current-password',
      required: true,
    }),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Log in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const button = form.querySelector('button');
    button.disabled = true;
    try {
      const s = await call('POST', '/session', {
        username: form.username.value, password: form.password.value,
      });
      set_csrf(s.csrf_token);
      user = s;
      announce(`Logged in as ${s.username}.`);
      go('#/');
    } catch (err) {
      error.textContent = err.message;
      form.password.value = '';
      form.password.focus();
    } finally {
      button.disabled = false;
    }
  });
  show('Log in', form);
  form.username.focus();
}

// --- dashboard ------------------------------------------------------------------------

function field(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}

async function dashboard_page() {
  const { servers } = await get('/servers');
  const cards = servers.map((s) => h('section', { class: 'card', 'aria-labelledby': `srv-${s.label}` },
    h('h2', { id: `srv-${s.label}` }, s.label),
    h('dl', { class: 'facts' },
      field('State', s.reason ? `${s.state} (${s.reason})` : s.state),
      field('Mode', s.mode),
      field('Grant', s.grant),
      field('CA expires', when(s.timers.ca_expires)),
      field('CRL next update', when(s.timers.crl_next_update)),
      field('Certificates', s.certificates ?? '—'),
      field('Pending requests', s.pending_requests ?? '—')),
    h('p', {},
      h('a', { href: `/api/v1/servers/${enc(s.label)}/crl`, download: `${s.label}.crl` },
        `Download the CRL of ${s.label}`))));
  const events = recent.length
    ? h('ul', { id: 'recent' }, recent.map((e) => h('li', {}, `${e.time.toLocaleTimeString()}: ${e.text}`)))
    : h('p', { id: 'recent' }, 'No events since this page was opened.');
  show('Dashboard', ...(cards.length ? cards : [h('p', {}, 'No certificate server is configured.')]),
    h('section', { class: 'card', 'aria-labelledby': 'events-title' },
      h('h2', { id: 'events-title' }, 'Recent events'), events));
}

// --- pending requests -----------------------------------------------------------------

async function pending_page() {
  const { servers } = await get('/servers');
  const sections = [];
  for (const s of servers) {
    const { requests } = await get(`/servers/${enc(s.label)}/requests?state=pending&limit=500`);
    const rows = requests.map((r) => h('tr', { 'data-request': r.id },
      h('td', {}, r.id), h('td', { class: 'wrap' }, r.subject), h('td', {}, r.kind),
      h('td', {}, when(r.created)),
      h('td', { class: 'buttons' },
        h('button', {
          type: 'button', class: 'primary', 'aria-label': `Grant request ${r.id}`,
          onclick: () => act(s.label, r, 'grant'),
        }, 'Grant'),
        h('button', {
          type: 'button', 'aria-label': `Reject request ${r.id}`,
          onclick: () => act(s.label, r, 'reject'),
        }, 'Reject'))));
    sections.push(h('section', { 'aria-labelledby': `pend-${s.label}` },
      h('h2', { id: `pend-${s.label}` }, s.label),
      rows.length ? table(`Pending requests of ${s.label}`, ['ID', 'Subject', 'Kind', 'Received', 'Action'], rows)
        : h('p', {}, 'No request is waiting.')));
  }
  show('Pending requests', ...sections);
}

async function act(label, request, verb) {
  const ok = await confirm_action(`${verb === 'grant' ? 'Grant' : 'Reject'} request ${request.id}?`,
    request.subject, verb === 'grant' ? 'Grant' : 'Reject');
  if (!ok) return;
  try {
    await post(`/servers/${enc(label)}/requests/${request.id}/${verb}`);
    announce(`Request ${request.id} ${verb === 'grant' ? 'granted' : 'rejected'}.`);
  } catch (err) {
    announce(err.message, true);
  }
  if (location.hash === '#/pending') route();
}

// --- certificates ---------------------------------------------------------------------

const search = { server: '', subject: '', san: '', serial: '', state: '', offset: 0 };
// What the form holds but has not searched for yet: a live redraw of the page shows it
// again rather than the last search, so typing is never lost to an update.
const draft = { ...search };
const FIELDS = ['server', 'subject', 'san', 'serial', 'state'];

function labelled(id, text, control) {
  return h('div', { class: 'field' }, h('label', { for: id }, text), control);
}

async function certificates_page() {
  const { servers } = await get('/servers');
  if (!search.server && servers.length) search.server = servers[0].label;
  if (!draft.server) draft.server = search.server;
  const form = h('form', { id: 'search', class: 'card search', role: 'search' },
    labelled('f-server', 'Server', h('select', { id: 'f-server', name: 'server' },
      servers.map((s) => h('option', { value: s.label, selected: s.label === draft.server }, s.label)))),
    labelled('f-subject', 'Subject', h('input', { id: 'f-subject', name: 'subject', value: draft.subject })),
    labelled('f-san', 'Subject alternative name', h('input', { id: 'f-san', name: 'san', value: draft.san })),
    labelled('f-serial', 'Serial number', h('input', { id: 'f-serial', name: 'serial', value: draft.serial })),
    labelled('f-state', 'State', h('select', { id: 'f-state', name: 'state' },
      [['', 'Any'], ['valid', 'Valid'], ['revoked', 'Revoked'], ['expired', 'Expired']].map(([v, t]) =>
        h('option', { value: v, selected: v === draft.state }, t)))),
    h('button', { type: 'submit', class: 'primary' }, 'Search'));
  const keep_draft = () => { for (const k of FIELDS) draft[k] = form[k].value; };
  form.addEventListener('input', keep_draft);
  form.addEventListener('change', keep_draft);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    keep_draft();
    for (const k of FIELDS) search[k] = draft[k].trim();
    search.offset = 0;
    route();
  });
  const results = h('div', { id: 'results' });
  const pem = h('div', { id: 'pem' });
  show('Certificates', form, results, pem);
  if (!search.server) return;
  const q = new URLSearchParams({ offset: search.offset, limit: PAGE });
  for (const k of ['subject', 'san', 'serial', 'state']) if (search[k]) q.set(k, search[k]);
  const list = await get(`/servers/${enc(search.server)}/certificates?${q}`);
  const rows = list.certificates.map((c) => h('tr', { 'data-serial': c.serial },
    h('td', {}, c.serial), h('td', { class: 'wrap' }, c.subject),
    h('td', { class: 'wrap' }, (c.subject_alt_names || []).join(', ')),
    h('td', {}, c.revocation_reason ? `${c.state} (${c.revocation_reason})` : c.state),
    h('td', {}, when(c.not_after)),
    h('td', { class: 'buttons' },
      h('button', {
        type: 'button', 'aria-label': `Show the PEM of ${c.serial}`,
        onclick: () => show_pem(search.server, c.serial, pem),
      }, 'PEM'),
      c.state === 'valid' ? h('button', {
        type: 'button', class: 'danger', 'aria-label': `Revoke ${c.serial}`,
        onclick: () => revoke(search.server, c),
      }, 'Revoke') : null)));
  const last = Math.min(list.offset + list.certificates.length, list.total);
  results.replaceChildren(
    h('p', {}, list.total ? `${list.offset + 1}–${last} of ${list.total}` : 'No certificate matches.'),
    rows.length ? table(`Certificates of ${search.server}`,
      ['Serial', 'Subject', 'Alternative names', 'State', 'Expires', 'Action'], rows) : '',
    h('div', { class: 'pager' },
      h('button', {
        type: 'button', disabled: list.offset === 0,
        onclick: () => { search.offset = Math.max(0, search.offset - PAGE); route(); },
      }, 'Previous page'),
      h('button', {
        type: 'button', disabled: last >= list.total,
        onclick: () => { search.offset += PAGE; route(); },
      }, 'Next page')));
}

async function show_pem(label, serial, where) {
  try {
    const c = await get(`/servers/${enc(label)}/certificates/0x${enc(serial)}`);
    where.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'pem-title' },
      h('h2', { id: 'pem-title', tabindex: -1 }, `Certificate ${serial}`),
      h('pre', { class: 'pem', tabindex: 0, 'aria-label': `PEM of ${serial}` }, c.pem || '(not stored)')));
    where.querySelector('h2').focus();
  } catch (err) {
    announce(err.message, true);
  }
}

async function revoke(label, cert) {
  const select = h('select', { id: 'revoke-reason' },
    REASONS.map((r) => h('option', { value: r }, r)));
  const extra = h('div', { class: 'field' }, h('label', { for: 'revoke-reason' }, 'Reason'), select);
  const ok = await confirm_action(`Revoke certificate ${cert.serial}?`, cert.subject, 'Revoke', extra);
  if (!ok) return;
  try {
    const r = await post(`/servers/${enc(label)}/certificates/0x${enc(cert.serial)}/revoke`,
      { reason: select.value });
    announce(`Certificate ${r.serial} revoked (${r.reason || 'no reason'}).`);
  } catch (err) {
    announce(err.message, true);
  }
  route();
}

// --- live updates ---------------------------------------------------------------------

function on_event(kind, data) {
  const what = {
    request: `Request ${data.id ?? ''} on ${data.server}: ${data.state ?? 'changed'}`,
    certificate: `Certificate ${data.serial ?? ''} on ${data.server}: ${data.state ?? 'changed'}`,
    crl: `New CRL on ${data.server}`,
    resync: 'Updated',
  }[kind] || `${kind} on ${data.server}`;
  if (kind !== 'resync') {
    recent.unshift({ time: new Date(), text: what });
    recent.length = Math.min(recent.length, 20);
    announce(what + '.');
  }
  // Only pages showing what changed are drawn again, and never under an open dialog.
  const page = location.hash || '#/';
  if (dialog.open) return;
  if (page === '#/' || (page === '#/pending' && kind !== 'crl') ||
      (page === '#/certificates' && kind !== 'request')) {
    route({ keep_focus: true });
  }
}

// --- routing --------------------------------------------------------------------------

const pages = {
  '#/': dashboard_page,
  '#/pending': pending_page,
  '#/certificates': certificates_page,
};

let routing = Promise.resolve();
function route(opts = {}) {
  routing = routing.then(() => draw(opts));
  return routing;
}

async function draw({ keep_focus } = {}) {
  const hash = location.hash || '#/';
  if (!user) {
    login_page();
    return;
  }
  if (hash === '#/login') {
    go('#/');
    return;
  }
  nav.hidden = false;
  document.getElementById('who').textContent = `${user.username} (${user.role})`;
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === hash) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const page = pages[hash];
  if (!page) {
    show('Not found', h('p', {}, 'There is no such page.'));
    return;
  }
  // A redraw for a live update puts the focus back where it was (same id or same label),
  // so a keyboard user is not thrown to the top of the page.
  const active = document.activeElement;
  const focused = active && active !== document.body && (active.id
    ? `#${CSS.escape(active.id)}`
    : active.getAttribute('aria-label') && `[aria-label="${CSS.escape(active.getAttribute('aria-label'))}"]`);
  try {
    await page();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      show('Error', h('p', { class: 'error' }, err.message));
      announce(err.message, true);
    }
    return;
  }
  if (!live) live = start_live(on_event);
  const again = keep_focus && focused && main.querySelector(focused);
  if (again) again.focus();
  else if (!keep_focus) main.focus();
}

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await del('/session');
  } catch (err) {
    // Logged out already, or the server is away: the console forgets the session anyway.
  }
  user = null;
  set_csrf('');
  if (live) live.stop();
  live = null;
  announce('Logged out.');
  go('#/login');
});

window.addEventListener('hashchange', () => route());

(async () => {
  try {
    user = await get('/session');
    set_csrf(user.csrf_token);
  } catch (err) {
    user = null;
  }
  route();
})();
