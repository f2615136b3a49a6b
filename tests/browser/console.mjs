// Drives the web console in Debian's chromium for tests/integration/test_console.py.
//   node console.mjs URL SHOTS_DIR PASSWORD
// Talks with the test over lines: prints "STEP name [json]" as it goes, and reads a line
// from stdin where the test has work to do (strongSwan's enrolment, its serial).
// The test CA is not in chromium's store, so the browser context ignores HTTPS errors;
// the test checks the server's certificate itself.
import { createRequire } from 'node:module';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(path.join(process.cwd(), 'node_modules', 'x.js'));
const { chromium } = require('playwright-core');

const [url, shots, password] = process.argv.slice(2);
const input = readline.createInterface({ input: process.stdin });
const lines = input[Symbol.asyncIterator]();
const say = (step, data) => console.log(`STEP ${step}${data === undefined ? '' : ' ' + JSON.stringify(data)}`);
const next_line = async () => (await lines.next()).value;
let shot_index = 0;
async function shot(page, name) {
  const file = path.join(shots, `${String(++shot_index).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
}

// Every input, select and textarea has a label tied to it (or an aria-label).
async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML));
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/lib/chromium/chromium',
  headless: true,
  args: ['--no-sandbox'],
});
try {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1200, height: 800 },
  });
  const page = await context.newPage();
  const errors = [];  // script errors in the page
  const logged = [];  // console errors (a missing /api/v1/events is one, and allowed)
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => { if (msg.type() === 'error') logged.push(msg.text()); });
  page.setDefaultTimeout(15000);

  // Log in with the keyboard only: tab to the fields, Enter submits.
  await page.goto(url);
  await page.getByLabel('Username').waitFor();
  say('unlabelled-login', await unlabelled(page));
  await shot(page, 'login');
  await page.getByLabel('Username').fill('admin');
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await page.getByText('Pending requests', { exact: true }).first().waitFor();
  await shot(page, 'dashboard');

  // The pending list, open before the request exists: it must show up without a reload.
  await page.getByRole('link', { name: 'Pending requests' }).click();
  await page.getByRole('heading', { name: 'Pending requests' }).waitFor();
  say('pending-open');
  await next_line();  // strongSwan is polling now
  const grant = page.getByRole('button', { name: /^Grant request \d+$/ });
  await grant.waitFor({ timeout: 20000 });
  const row = await page.locator('tr[data-request]').first().innerText();
  await shot(page, 'request-arrived');
  // With the keyboard: Enter on the button, the dialog opens on Cancel, Tab, Enter.
  await grant.focus();
  await page.keyboard.press('Enter');
  await page.getByRole('dialog').waitFor();
  await shot(page, 'grant-confirm');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.textContent);
  if (focused !== 'Grant') throw new Error(`Tab in the dialog went to "${focused}"`);
  await page.keyboard.press('Enter');
  await page.getByRole('status').filter({ hasText: /granted/ }).waitFor();
  await shot(page, 'granted');
  say('granted', row);

  const serial = (await next_line()).trim();  // the certificate strongSwan received

  // Search by subject, show the PEM, revoke with a reason.
  await page.getByRole('link', { name: 'Certificates' }).click();
  await page.getByLabel('Subject', { exact: true }).fill('sw1');
  await page.getByLabel('State').selectOption('valid');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator(`tr[data-serial="${serial}"]`).waitFor();
  say('unlabelled-search', await unlabelled(page));
  await page.getByRole('button', { name: `Show the PEM of ${serial}` }).click();
  const pem = await page.locator('pre.pem').innerText();
  await shot(page, 'certificate');
  await page.getByRole('button', { name: `Revoke ${serial}` }).click();
  await page.getByLabel('Reason').selectOption('keyCompromise');
  say('unlabelled-revoke', await unlabelled(page));
  await shot(page, 'revoke-confirm');
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('status').filter({ hasText: /revoked/ }).waitFor();
  await page.getByLabel('State').selectOption('revoked');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator(`tr[data-serial="${serial}"]`).filter({ hasText: 'keyCompromise' }).waitFor();
  await shot(page, 'revoked');
  say('revoked', { pem });

  // The CRL through the dashboard's link, fetched by the page with its session.
  await page.getByRole('link', { name: 'Dashboard' }).click();
  const link = page.getByRole('link', { name: /^Download the CRL of / });
  const href = await link.getAttribute('href');
  const crl = await page.evaluate(async (u) => {
    const r = await fetch(u, { credentials: 'same-origin' });
    const bytes = new Uint8Array(await r.arrayBuffer());
    return { status: r.status, type: r.headers.get('Content-Type'), b64: btoa(String.fromCharCode(...bytes)) };
  }, href);
  await shot(page, 'dashboard-after');
  say('crl', { href, ...crl });

  // A phone: 390 px wide, nothing wider than the screen but the scrolling tables.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('link', { name: 'Pending requests' }).click();
  await page.getByRole('heading', { name: 'Pending requests' }).waitFor();
  const phone = await page.evaluate(() => ({
    width: document.documentElement.scrollWidth,
    nav_visible: !!document.querySelector('#nav a').offsetParent,
  }));
  await shot(page, 'phone-pending');
  await page.getByRole('link', { name: 'Dashboard' }).click();
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await shot(page, 'phone-dashboard');
  say('phone', phone);

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await shot(page, 'logged-out');
  // The session is gone on the server too: the API answers 401 now.
  const after = await page.evaluate(async () => (await fetch('/api/v1/servers')).status);
  say('logged-out', after);

  // Three wrong passwords, then the right one: the account is locked.
  const messages = [];
  for (const guess of ['guess1', 'guess2', 'guess3', password]) {
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(guess);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#login-error:not(:empty)').waitFor();
    messages.push(await page.locator('#login-error').innerText());
    await page.locator('#login-error').evaluate((el) => { el.textContent = ''; });
  }
  await page.locator('#login-error').evaluate((el, m) => { el.textContent = m; }, messages.at(-1));
  await shot(page, 'locked');
  say('lockout', messages);
  say('console', logged);
  say('errors', errors);
} finally {
  input.close();
  await browser.close();
}
say('done');
