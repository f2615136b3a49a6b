// Calls to /api/v1. The session cookie is HttpOnly and sent by the browser; the CSRF
// token from the login answer goes with every POST and DELETE.
const ROOT = '/api/v1';
let csrf = sessionStorage.getItem('scepter_csrf') || '';

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export function set_csrf(token) {
  csrf = token || '';
  if (csrf) sessionStorage.setItem('scepter_csrf', csrf);
  else sessionStorage.removeItem('scepter_csrf');
}

// Called with the ApiError of any 401 except a failed login.
let on_unauthorized = () => {};
export function when_unauthorized(fn) {
  on_unauthorized = fn;
}

export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method === 'POST' || method === 'DELETE') headers['X-CSRF-Token'] = csrf;
  let resp;
  try {
    resp = await fetch(ROOT + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, 'The server cannot be reached.');
  }
  const type = resp.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await resp.json().catch(() => null) : null;
  if (!resp.ok) {
    const detail = (data && (data.detail || data.title)) || `${resp.status} ${resp.statusText}`;
    const err = new ApiError(resp.status, detail);
    if (resp.status === 401 && path !== '/session') on_unauthorized(err);
    throw err;
  }
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body === undefined ? {} : body);
export const del = (path) => call('DELETE', path);
export const enc = encodeURIComponent;
