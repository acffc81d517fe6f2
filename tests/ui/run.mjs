// The viewer page (/ui/) in Debian's headless Chromium, against a real Event Server that
// tests/ui_browser.rs started and filled with its fixture (users alice, bob, carol, dave,
// mallory; an export, reads by code, compute usage, API-node queries, an authfail burst, and an
// event whose fields are HTML/script payloads). Compares what the page shows with what the read
// API answers to the same request, fetched here directly.
//
//   node tests/ui/run.mjs <base url> <read key>
//
// Exit status: 0 when every check passed, 1 when one failed, 2 on bad arguments, 3 when the
// whole run took longer than its bound. Talks to <base url> only (which must be on 127.0.0.1):
// any other request of the page is refused and fails the run.
import { chromium } from 'playwright-core';

const [base, readKey] = process.argv.slice(2);
if (!base || !readKey || !/^http:\/\/127\.0\.0\.1:\d+$/.test(base)) {
  console.error('usage: node tests/ui/run.mjs http://127.0.0.1:PORT READ_KEY');
  process.exit(2);
}
const DEADLINE_MS = Number(process.env.UI_TEST_DEADLINE_MS || 100_000);
setTimeout(() => {
  console.error(`run.mjs: still running after ${DEADLINE_MS} ms, giving up`);
  process.exit(3);
}, DEADLINE_MS).unref();

const HOSTILE_USER = '<img src=x onerror="window.__xss=1">';
const HOSTILE_TYPE = '</script><script>window.__xss=2</script>';
const STATES = ['sealed', 'pending', 'failed', 'none'];

let passed = 0;
let failed = 0;
function check(name, ok, detail = '') {
  if (ok) {
    passed += 1;
    console.log(`ok - ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL - ${name}${detail ? `: ${detail}` : ''}`);
  }
  return ok;
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const show = (v) => String(JSON.stringify(v)).slice(0, 600);

// ---- the API itself, for the expected answers ----------------------------------------------

async function apiFetch(path, params = {}, key = readKey) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of [].concat(v)) q.append(k, String(one));
  }
  const url = `${base}${path}${[...q].length ? `?${q}` : ''}`;
  return fetch(url, {
    headers: { Authorization: `Bearer ${key}` },
    redirect: 'manual',
    signal: AbortSignal.timeout(15_000),
  });
}

/** `GET /api/events`: the NDJSON lines parsed, and the next cursor. */
async function apiEvents(params) {
  const r = await apiFetch('/api/events', params);
  if (r.status !== 200) throw new Error(`/api/events ${JSON.stringify(params)}: ${r.status} ${await r.text()}`);
  const lines = (await r.text()).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  return { lines, next: r.headers.get('x-next-cursor') };
}

async function apiReport(name, params = {}) {
  const r = await apiFetch(`/api/reports/${name}`, params);
  if (r.status !== 200) throw new Error(`/api/reports/${name}: ${r.status} ${await r.text()}`);
  return r.json();
}

/** A report value as the page must show it (the CLI's table form). */
function cellText(v) {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

// ---- the page ------------------------------------------------------------------------------

async function readResults(page) {
  return page.$$eval('#panel-search tbody tr', (trs) => trs.map((tr) => ({
    time: tr.querySelector('.c-time')?.textContent,
    topic: tr.querySelector('.c-topic')?.textContent,
    msgType: tr.querySelector('.c-msgType')?.textContent,
    user: tr.querySelector('.c-user')?.textContent,
    origin: tr.querySelector('.c-origin')?.textContent,
    integrity: tr.querySelector('.c-integrity .badge')?.textContent ?? null,
    event: tr.querySelector('.c-event pre')?.textContent,
  })));
}

async function readReport(page, view) {
  return page.$eval(`#panel-${view} table.report`, (t) => ({
    hidden: t.hidden,
    columns: [...t.querySelectorAll('thead th')].map((th) => th.textContent),
    rows: [...t.querySelectorAll('tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
  }));
}

/** Runs `action` and waits until `view`'s panel finished the load it caused. */
async function loaded(page, view, action) {
  const sel = `#panel-${view}`;
  const before = await page.$eval(sel, (p) => p.dataset.loaded || '');
  await action();
  await page.waitForFunction(
    ([s, b]) => (document.querySelector(s).dataset.loaded || '') !== b,
    [sel, before],
    { timeout: 15_000 },
  );
  const error = await page.$eval(`${sel} .error`, (e) => (e.hidden ? '' : e.textContent));
  if (error) console.log(`   (${view} shows the error: ${error})`);
  return error;
}

async function storage(page) {
  return page.evaluate(() => ({
    session: sessionStorage.getItem('log4rs-audit.readKey'),
    localCount: localStorage.length,
    local: Object.keys(localStorage).map((k) => localStorage.getItem(k)),
    url: location.href,
    cookies: document.cookie,
  }));
}

async function main() {
  // 1. The files and their headers.
  {
    const r = await fetch(`${base}/ui/`, { signal: AbortSignal.timeout(10_000) });
    const csp = r.headers.get('content-security-policy') || '';
    check('/ui/ is HTML with the security headers',
      r.status === 200 && r.headers.get('content-type') === 'text/html; charset=utf-8'
        && r.headers.get('cache-control') === 'no-store'
        && r.headers.get('x-content-type-options') === 'nosniff'
        && r.headers.get('referrer-policy') === 'no-referrer'
        && csp.includes("default-src 'self'") && csp.includes("script-src 'self'")
        && csp.includes("frame-ancestors 'none'") && !csp.includes('unsafe'),
      `${r.status} ${show([...r.headers])}`);
    const js = await fetch(`${base}/ui/app.js`, { signal: AbortSignal.timeout(10_000) });
    check('/ui/app.js is JavaScript', js.status === 200
      && js.headers.get('content-type') === 'text/javascript; charset=utf-8', `${js.status}`);
    const redirect = await fetch(`${base}/ui`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
    check('/ui redirects to /ui/', [301, 302, 303, 307, 308].includes(redirect.status)
      && redirect.headers.get('location') === '/ui/', `${redirect.status} ${redirect.headers.get('location')}`);
    const missing = await fetch(`${base}/ui/nope.js`, { signal: AbortSignal.timeout(10_000) });
    check('/ui/nope.js is 404', missing.status === 404, `${missing.status}`);
    const noKey = await fetch(`${base}/api/events`, { signal: AbortSignal.timeout(10_000) });
    check('the API refuses a request without a key (401, WWW-Authenticate)',
      noKey.status === 401 && /^Bearer/i.test(noKey.headers.get('www-authenticate') || ''), `${noKey.status}`);
  }

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout: 30_000,
    args: [
      ...(process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : []),
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--metrics-recording-only',
      '--disable-default-apps',
    ],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(15_000);
    const elsewhere = [];
    // Only the server under test: anything else the page asks for is refused and reported.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${base}/`) || url.startsWith('data:')) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const page = await context.newPage();
    const pageErrors = [];
    const dialogs = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });

    // 2. The page asks for the key; a wrong one is refused with a message.
    await page.goto(`${base}/ui/`, { waitUntil: 'load' });
    await page.waitForSelector('#login:not([hidden])');
    check('the page asks for a read key in a password field',
      await page.$eval('#key', (i) => i.type === 'password' && !!i.labels?.length)
        && await page.$eval('#app', (a) => a.hidden));
    await page.fill('#key', 'not-the-key');
    await page.press('#key', 'Enter');
    await page.waitForSelector('#login-error:not([hidden])');
    const refused = await page.textContent('#login-error');
    check('a wrong key shows an error and is not kept',
      refused.length > 0 && (await storage(page)).session === null && await page.$eval('#app', (a) => a.hidden),
      refused);

    // 3. The right key opens the page: kept in sessionStorage only.
    await loaded(page, 'search', async () => {
      await page.fill('#key', readKey);
      await page.click('#login-form button[type="submit"]');
    });
    let st = await storage(page);
    check('the key is in sessionStorage, not in localStorage, the URL or a cookie',
      st.session === readKey && st.localCount === 0 && !st.local.includes(readKey)
        && !st.url.includes(readKey) && !st.cookies.includes(readKey), show(st));

    // 4. Search one user: exactly the API's lines, in its order.
    const user = 'alice';
    const limit = 5;
    await page.fill('#f-user', user);
    await page.fill('#o-limit', String(limit));
    await loaded(page, 'search', () => page.click('#panel-search form.options button[type="submit"]'));
    const firstPage = await readResults(page);
    const apiFirst = await apiEvents({ user, limit });
    const apiFirstAnnotated = await apiEvents({ user, limit, annotate: 1 });
    check(`the search for ${user} shows the API's first page (${apiFirst.lines.length} lines)`,
      firstPage.length === apiFirst.lines.length && apiFirst.lines.length === limit
        && firstPage.every((row, i) => row.time === apiFirst.lines[i].serverTimestamp
          && row.msgType === apiFirst.lines[i].clientEvent.msgType
          && row.user === user
          && row.origin === apiFirst.lines[i].origAddress
          && same(JSON.parse(row.event), apiFirst.lines[i].clientEvent)),
      `page ${show(firstPage.map((r) => [r.time, r.msgType]))} api ${show(apiFirst.lines.map((l) => [l.serverTimestamp, l.clientEvent.msgType]))}`);
    check('the topic column is the annotated topic',
      firstPage.every((row, i) => row.topic === apiFirstAnnotated.lines[i]?.topic), show(firstPage.map((r) => r.topic)));
    const times = firstPage.map((r) => r.time);
    check('newest first', times.every((t, i) => i === 0 || Date.parse(times[i - 1].replace(/([+-]\d\d)(\d\d)$/, '$1:$2')) >= Date.parse(t.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'))), show(times));
    check('"Older" is offered when the API gives a cursor',
      !!apiFirst.next === await page.$eval('#panel-search .older', (b) => !b.hidden));

    // 5. Integrity badges: the annotated API's state of each line's file.
    {
      const badges = firstPage.map((r) => r.integrity);
      const after = await apiEvents({ user, limit, annotate: 1 });
      check('each line has an integrity badge, the one the annotated API gives',
        badges.every((b, i) => STATES.includes(b)
          && (b === apiFirstAnnotated.lines[i].integrity || b === after.lines[i].integrity)),
        `page ${show(badges)} api ${show(apiFirstAnnotated.lines.map((l) => l.integrity))}`);
      check('the destination has integrity: badges say sealed or pending',
        badges.some((b) => b === 'sealed' || b === 'pending'), show(badges));
    }

    // 6. "Older" pages on with no duplicate and no gap, up to the last line.
    {
      let pages = 1;
      while (await page.$eval('#panel-search .older', (b) => !b.hidden) && pages < 50) {
        await loaded(page, 'search', () => page.click('#panel-search .older'));
        pages += 1;
      }
      const all = await readResults(page);
      const full = await apiEvents({ user, limit: 1000 });
      const ids = all.map((r) => JSON.parse(r.event).n);
      check(`"Older" shows every line of ${user} once, in order (${pages} pages)`,
        pages > 2 && all.length === full.lines.length && new Set(ids).size === ids.length
          && all.every((row, i) => row.time === full.lines[i].serverTimestamp
            && same(JSON.parse(row.event), full.lines[i].clientEvent)),
        `page ${show(ids)} api ${show(full.lines.map((l) => l.clientEvent.n))}`);
      check('after the last page "Older" is gone',
        await page.$eval('#panel-search .older', (b) => b.hidden));
      // The API's own cursor chain agrees with its one-page answer (no gap between pages).
      let chained = [];
      let cursor = null;
      for (let i = 0; i < 50; i += 1) {
        const r = await apiEvents(cursor ? { user, limit, cursor } : { user, limit });
        chained = chained.concat(r.lines);
        cursor = r.next;
        if (!cursor) break;
      }
      check("the API's cursor chain equals its one-page answer",
        same(chained, full.lines), `${chained.length} vs ${full.lines.length}`);
    }

    // 7. The hostile event: every field stays text.
    {
      await page.fill('#f-user', '');
      await page.fill('#o-limit', '1000');
      await loaded(page, 'search', () => page.press('#o-limit', 'Enter'));
      const rows = await readResults(page);
      const hostile = rows.find((r) => r.user === HOSTILE_USER);
      const dom = await page.evaluate(() => ({
        imgs: document.querySelectorAll('img').length,
        scripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
        bold: document.querySelectorAll('main b').length,
        xss: window.__xss ?? null,
      }));
      check('the hostile event is shown as text: no element created, nothing run',
        !!hostile && hostile.msgType === HOSTILE_TYPE && hostile.event.includes('</script>')
          && hostile.event.includes('<img src=x onerror=alert(1)>')
          && dom.imgs === 0 && same(dom.scripts, ['app.js']) && dom.bold === 0 && dom.xss === null,
        `${show(hostile)} ${show(dom)}`);
      const apiAll = await apiEvents({ limit: 1000 });
      check('the unfiltered search shows every line the API returns',
        rows.length === apiAll.lines.length
          && rows.every((r, i) => r.time === apiAll.lines[i].serverTimestamp
            && r.msgType === apiAll.lines[i].clientEvent.msgType),
        `${rows.length} vs ${apiAll.lines.length}`);
      // The expandable JSON opens with the keyboard.
      const summary = page.locator('#panel-search tbody tr .c-event summary').first();
      await summary.focus();
      await page.keyboard.press('Enter');
      check('an event opens with the keyboard',
        await page.locator('#panel-search tbody tr .c-event details').first().evaluate((d) => d.open));
    }

    // 8. Each report tab shows the API's rows, columns in the rows' key order.
    const reports = [
      ['last-activity', {}, null],
      ['exports', {}, null],
      ['usage', {}, null],
      ['cru', {}, null],
      ['apinode', {}, null],
      ['authfail', {}, null],
      ['usage', { period: 'month' }, ['#o-period', 'month']],
      ['cru', { by: 'project' }, ['#o-by', 'project']],
      ['authfail', { burst: 10, window: '10m' }, ['#o-burst', '10']],
    ];
    const shown = {};
    for (const [view, params, option] of reports) {
      const tab = `#tab-${view}`;
      if (await page.$eval(tab, (t) => t.getAttribute('aria-selected') !== 'true')) {
        await loaded(page, view, () => page.click(tab));
      }
      if (!option) {
        // Shown by the click above.
      } else if (option[0].startsWith('#o-burst')) {
        await page.fill(option[0], option[1]);
        await loaded(page, view, () => page.press(option[0], 'Enter'));
      } else {
        await loaded(page, view, () => page.selectOption(option[0], option[1]));
      }
      const got = await readReport(page, view);
      const api = await apiReport(view, { ...(view === 'usage' && !params.period ? { period: 'day' } : {}),
        ...(view === 'cru' && !params.by ? { by: 'user' } : {}),
        ...(view === 'authfail' && !params.burst ? { burst: 5, window: '10m' } : {}),
        ...params });
      const columns = [];
      for (const row of api.rows) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
      const want = api.rows.map((row) => columns.map((c) => cellText(row[c])));
      check(`${view} ${show(params)} shows the API's ${api.rows.length} rows`,
        api.report === view && api.rows.length > 0 && !got.hidden
          && same(got.columns, columns) && same(got.rows, want),
        `page ${show(got)} api ${show({ columns, want })}`);
      shown[`${view}${show(params)}`] = { got, api };
    }
    {
      const af = shown['authfail{}'];
      const idx = af.got.columns.indexOf('burst');
      const mallory = af.got.rows.find((r) => r[0] === 'mallory');
      check('authfail flags mallory\'s burst', !!mallory && mallory[idx] === 'yes', show(af.got));
      const af10 = shown[`authfail${show({ burst: 10, window: '10m' })}`];
      const m10 = af10.got.rows.find((r) => r[0] === 'mallory');
      check('with burst 10 it is no burst', !!m10 && m10[idx] === 'no', show(af10.got));
      const ex = shown['exports{}'];
      const types = ex.got.rows.map((r) => r[ex.got.columns.indexOf('msgType')]);
      check('exports lists the export and the reads by code',
        types.includes('dataset-export') && types.includes('dataset-read-data'), show(types));
      const la = shown['last-activity{}'];
      check('last activity lists the hostile user as text',
        la.got.rows.some((r) => r[0] === HOSTILE_USER)
          && await page.evaluate(() => document.querySelectorAll('img, main b').length === 0 && window.__xss === undefined));
    }

    // 9. Keyboard: the tabs follow the arrow keys.
    {
      await page.focus('#tab-authfail');
      await loaded(page, 'search', () => page.keyboard.press('ArrowRight'));
      const selected = await page.$eval('[role="tab"][aria-selected="true"]', (t) => t.id);
      const focused = await page.evaluate(() => document.activeElement?.id);
      check('ArrowRight on the last tab moves to the first (Search), with focus',
        selected === 'tab-search' && focused === 'tab-search'
          && await page.$eval('#panel-search', (p) => !p.hidden), `${selected} ${focused}`);
    }

    // 10. A narrow window: no sideways scrolling of the page itself.
    {
      await page.setViewportSize({ width: 360, height: 740 });
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      check('readable on a 360 px window (no page-wide horizontal scroll)', width <= 362, `${width}`);
      if (process.env.UI_SCREENSHOT_DIR) {
        await page.screenshot({ path: `${process.env.UI_SCREENSHOT_DIR}/narrow.png`, fullPage: false });
      }
      await page.setViewportSize({ width: 1280, height: 900 });
      if (process.env.UI_SCREENSHOT_DIR) {
        await page.screenshot({ path: `${process.env.UI_SCREENSHOT_DIR}/wide.png`, fullPage: false });
      }
    }

    // 11. The key stays in its tab: a reload keeps it, another tab (context) asks again.
    {
      await page.reload({ waitUntil: 'load' });
      await page.waitForSelector('#app:not([hidden])');
      const other = await browser.newContext();
      await other.route('**/*', (route) => (route.request().url().startsWith(`${base}/`) ? route.continue() : route.abort()));
      const p2 = await other.newPage();
      await p2.goto(`${base}/ui/`, { waitUntil: 'load' });
      await p2.waitForSelector('#login:not([hidden])');
      check('a reload keeps the key; a new session asks for it', (await storage(p2)).session === null);
      await other.close();
    }

    // 12. A key revoked mid-session (401): forgotten, and asked for again.
    {
      await page.evaluate(() => sessionStorage.setItem('log4rs-audit.readKey', 'revoked-key'));
      await page.click('#tab-search');
      await page.waitForSelector('#login:not([hidden])');
      st = await storage(page);
      const msg = await page.textContent('#login-error');
      check('a 401 clears the key and asks again', st.session === null && msg.length > 0, show(st));
    }

    // 13. Nothing went wrong on the side.
    const csp = await page.evaluate(() => window.__cspViolations);
    check('no request left for another host', elsewhere.length === 0, show(elsewhere));
    check('no script error, no dialog, no CSP violation',
      pageErrors.length === 0 && dialogs.length === 0 && csp.length === 0,
      show({ pageErrors, dialogs, csp }));
    await context.close();
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  failed += 1;
  console.log(`FAIL - the run stopped: ${e?.stack || e}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
