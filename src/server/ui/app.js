// The Event Server's viewer page: search the stored lines and run the reports through the read
// API (/api/events, /api/reports/<name>) with a read key.
//
// Every value from the server is attacker-controlled text (any node with an event key chooses
// what its events hold), so this script builds the DOM with createElement and textContent
// only; it never parses data as HTML. The key is kept in sessionStorage (this tab only, gone
// when it closes), sent as `Authorization: Bearer`, never put in a URL; a 401 forgets it.
'use strict';

(() => {
  const KEY_STORE = 'log4rs-audit.readKey';
  const VIEWS = ['search', 'last-activity', 'exports', 'usage', 'cru', 'apinode', 'authfail'];
  const INTEGRITY = {
    sealed: 'The file is covered by a signed checkpoint.',
    pending: 'The file has integrity; this line is not yet covered by a signed checkpoint.',
    failed: 'The file failed its integrity check: it may have been changed.',
    none: 'The destination keeps no integrity data for this file.',
  };

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  /** An element with text only: `el('td', {className: 'x'}, 'text')`. */
  function el(tag, props = {}, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'className') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- the key -------------------------------------------------------------------------

  const getKey = () => sessionStorage.getItem(KEY_STORE);
  const forgetKey = () => sessionStorage.removeItem(KEY_STORE);

  /** Thrown after a 401: the login form is shown again, the view shows nothing more. */
  class Unauthorized extends Error {}

  function showLogin(message) {
    $('#app').hidden = true;
    $('#forget').hidden = true;
    $('#login').hidden = false;
    const err = $('#login-error');
    err.textContent = message || '';
    err.hidden = !message;
    const input = $('#key');
    input.value = '';
    input.focus();
  }

  function showApp() {
    $('#login').hidden = true;
    $('#app').hidden = false;
    $('#forget').hidden = false;
  }

  /**
   * GET `path` with the key; returns the Response when 2xx. A 401 forgets the key and asks
   * again; any other status throws the server's `error` text.
   */
  async function api(path, params, signal, key = getKey()) {
    const url = params ? `${path}?${params}` : path;
    let r;
    try {
      r = await fetch(url, {
        headers: { Authorization: `Bearer ${key}`, Accept: 'application/json, application/x-ndjson' },
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
        signal,
      });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new Error(`The server did not answer (${e.message}).`);
    }
    if (r.status === 401) {
      throw new Unauthorized(await errorText(r));
    }
    if (!r.ok) {
      throw new Error(`${r.status}: ${await errorText(r)}`);
    }
    return r;
  }

  async function errorText(r) {
    const text = await r.text().catch(() => '');
    try {
      const v = JSON.parse(text);
      if (v && typeof v.error === 'string') return v.error;
    } catch (_) { /* not JSON: the text itself */ }
    return text.trim() || r.statusText || 'error';
  }

  function unauthorized() {
    forgetKey();
    abortAll();
    showLogin('The server refused the key (it may have been revoked). Enter it again.');
  }

  // ---- filters -------------------------------------------------------------------------

  /** The shared filters as query parameters (empty fields left out). */
  function filterParams() {
    const f = $('#filters');
    const p = new URLSearchParams();
    for (const name of ['topic', 'msgType', 'user', 'since', 'until', 'destination']) {
      const v = f.elements[name].value.trim();
      if (v) p.set(name, v);
    }
    for (const line of f.elements.where.value.split('\n')) {
      const w = line.trim();
      if (w) p.append('where', w);
    }
    return p;
  }

  function optionValue(view, name) {
    return $(`form.options[data-view="${view}"]`).elements[name].value.trim();
  }

  // ---- views ---------------------------------------------------------------------------

  const controllers = new Map();

  /** A new AbortController for `view`, aborting the request it replaces. */
  function freshSignal(view) {
    controllers.get(view)?.abort();
    const c = new AbortController();
    controllers.set(view, c);
    return c.signal;
  }

  function abortAll() {
    for (const c of controllers.values()) c.abort();
    controllers.clear();
  }

  const panel = (view) => $(`#panel-${view}`);

  function setStatus(view, text, busy = false) {
    const p = panel(view);
    $('.status', p).textContent = text;
    p.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  function setError(view, text) {
    const e = $('.error', panel(view));
    e.textContent = text || '';
    e.hidden = !text;
  }

  let loads = 0;

  /**
   * Runs one load of `view`; when it ends (shown or failed, not replaced by a newer one), the
   * panel's `data-loaded` changes, which is what the browser test waits for.
   */
  async function run(view, fn) {
    setError(view, '');
    setStatus(view, 'Loading…', true);
    const signal = freshSignal(view);
    try {
      await fn(signal);
    } catch (e) {
      if (e.name === 'AbortError' || signal.aborted) return;
      if (e instanceof Unauthorized) {
        unauthorized();
        return;
      }
      setStatus(view, '');
      setError(view, e.message);
    } finally {
      if (!signal.aborted) {
        panel(view).setAttribute('aria-busy', 'false');
        panel(view).dataset.loaded = String(++loads);
      }
    }
  }

  function select(view, { focus = false, load = true } = {}) {
    if (!VIEWS.includes(view)) view = 'search';
    for (const tab of $$('[role="tab"]')) {
      const on = tab.dataset.view === view;
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      if (on && focus) tab.focus();
    }
    for (const p of $$('[role="tabpanel"]')) p.hidden = p.dataset.view !== view;
    history.replaceState(null, '', `#${view}`);
    if (load) refresh(view);
  }

  const current = () => $('[role="tab"][aria-selected="true"]')?.dataset.view || 'search';

  function refresh(view) {
    if (view === 'search') search();
    else report(view);
  }

  // ---- search --------------------------------------------------------------------------

  const searchState = { params: null, cursor: null, shown: 0 };

  function search() {
    const p = filterParams();
    const limit = optionValue('search', 'limit');
    if (limit) p.set('limit', limit);
    p.set('annotate', '1');
    searchState.params = p;
    searchState.cursor = null;
    searchState.shown = 0;
    const table = $('table.results', panel('search'));
    $('tbody', table).replaceChildren();
    table.hidden = true;
    $('.older', panel('search')).hidden = true;
    run('search', (signal) => page(p, signal));
  }

  function older() {
    if (!searchState.cursor) return;
    const p = new URLSearchParams(searchState.params);
    p.set('cursor', searchState.cursor);
    // One page at a time: a second click on the same cursor would show its lines twice.
    const button = $('.older', panel('search'));
    button.disabled = true;
    run('search', (signal) => page(p, signal)).finally(() => { button.disabled = false; });
  }

  async function page(params, signal) {
    const r = await api('/api/events', params, signal);
    const text = await r.text();
    const next = r.headers.get('X-Next-Cursor');
    if (signal.aborted) return; // a newer search replaced this one
    const tbody = $('table.results tbody', panel('search'));
    const rows = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      rows.push(resultRow(line));
    }
    tbody.append(...rows);
    searchState.shown += rows.length;
    searchState.cursor = next || null;
    $('table.results', panel('search')).hidden = searchState.shown === 0;
    const olderButton = $('.older', panel('search'));
    olderButton.hidden = !next;
    const n = searchState.shown;
    let status = n === 0 ? 'No line matches.' : `${n} line${n === 1 ? '' : 's'}, newest first`;
    if (next) status += '; older lines may exist.';
    else if (n > 0) status += '; no older line.';
    setStatus('search', status);
  }

  /** The stored line's parts, whichever envelope it has (Event Server or log file). */
  function parts(line) {
    const event = isObject(line.clientEvent) ? line.clientEvent
      : isObject(line.message) ? line.message : null;
    const mdc = isObject(line.mdc) ? line.mdc : {};
    const user = event && typeof event.authUser === 'string' ? event.authUser
      : typeof mdc.user === 'string' ? mdc.user : '';
    return {
      time: str(line.serverTimestamp ?? line.timestamp),
      msgType: event ? str(event.msgType) : '',
      user,
      origin: str(line.origAddress),
      event: event ?? line,
    };
  }

  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
  const str = (v) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

  function resultRow(text) {
    let a;
    try {
      a = JSON.parse(text);
    } catch (_) {
      const tr = el('tr', { className: 'unreadable' });
      const td = el('td', { colspan: '7' }, `Unreadable line from the server: ${text.slice(0, 200)}`);
      tr.append(td);
      return tr;
    }
    // Annotated (`annotate=1`): {destination, file, offset, topic, routingKey, integrity, line}.
    const annotated = isObject(a.line);
    const line = annotated ? a.line : a;
    const p = parts(line);
    const tr = el('tr');
    // `data-label`: the column's name, shown beside each value when a narrow window stacks
    // the cells (style.css).
    tr.append(
      el('td', { className: 'c-time', 'data-label': 'Time' }, p.time),
      el('td', { className: 'c-topic', 'data-label': 'Topic' }, annotated ? str(a.topic) : ''),
      el('td', { className: 'c-msgType', 'data-label': 'msgType' }, p.msgType),
      el('td', { className: 'c-user', 'data-label': 'User' }, p.user),
      el('td', { className: 'c-origin', 'data-label': 'Origin' }, p.origin),
    );
    const integrity = annotated ? str(a.integrity) : '';
    const badgeCell = el('td', { className: 'c-integrity', 'data-label': 'Integrity' });
    if (integrity) {
      const known = Object.hasOwn(INTEGRITY, integrity);
      badgeCell.append(el('span', {
        className: `badge badge-${known ? integrity : 'unknown'}`,
        title: known ? INTEGRITY[integrity] : 'Unknown integrity state',
      }, integrity));
    }
    tr.append(badgeCell);
    const details = el('details');
    const compact = JSON.stringify(p.event);
    details.append(el('summary', {}, compact.length > 90 ? `${compact.slice(0, 89)}…` : compact));
    if (annotated) {
      const where = (a.destination ? `${str(a.destination)}: ` : '') +
        `${str(a.file)} at byte ${str(a.offset)}` +
        (a.routingKey ? `, routing key ${str(a.routingKey)}` : '');
      details.append(el('p', { className: 'location' }, where));
    }
    details.append(el('pre', { className: 'json' }, JSON.stringify(p.event, null, 2)));
    const eventCell = el('td', { className: 'c-event', 'data-label': 'Event' });
    eventCell.append(details);
    tr.append(eventCell);
    return tr;
  }

  // ---- reports -------------------------------------------------------------------------

  /** Each report's own options, beside the shared filters. */
  const REPORT_OPTIONS = {
    usage: ['period'],
    cru: ['by'],
    authfail: ['burst', 'window'],
  };

  function report(view) {
    const p = filterParams();
    for (const name of REPORT_OPTIONS[view] || []) {
      const v = optionValue(view, name);
      if (v) p.set(name, v);
    }
    const pnl = panel(view);
    const table = $('table.report', pnl);
    table.hidden = true;
    $('.readstats', pnl).textContent = '';
    run(view, async (signal) => {
      const r = await api(`/api/reports/${encodeURIComponent(view)}`, p, signal);
      const body = await r.json();
      if (signal.aborted) return;
      const rows = Array.isArray(body.rows) ? body.rows : [];
      renderReport(table, rows);
      setStatus(view, rows.length === 0 ? 'No row.' : `${rows.length} row${rows.length === 1 ? '' : 's'}`);
      $('.readstats', pnl).textContent = readStats(body.read);
      $('.readstats', pnl).classList.toggle('warn', hasTrouble(body.read));
    });
  }

  /** The columns are the rows' keys in order (the first row's, then any new ones). */
  function renderReport(table, rows) {
    const columns = [];
    const seen = new Set();
    for (const row of rows) {
      if (!isObject(row)) continue;
      for (const k of Object.keys(row)) {
        if (!seen.has(k)) {
          seen.add(k);
          columns.push(k);
        }
      }
    }
    const head = el('tr');
    for (const c of columns) head.append(el('th', { scope: 'col' }, c));
    $('thead', table).replaceChildren(head);
    const trs = rows.map((row) => {
      const tr = el('tr');
      for (const c of columns) {
        const v = isObject(row) ? row[c] : undefined;
        const props = { 'data-label': c };
        if (typeof v === 'number') props.className = 'num';
        tr.append(el('td', props, cell(v)));
      }
      return tr;
    });
    $('tbody', table).replaceChildren(...trs);
    table.hidden = rows.length === 0;
  }

  /** A report value as the CLI's table shows it: yes/no, `-` for none. */
  function cell(v) {
    if (v === null || v === undefined) return '-';
    if (typeof v === 'boolean') return v ? 'yes' : 'no';
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    return JSON.stringify(v);
  }

  function readStats(read) {
    if (!isObject(read)) return '';
    const n = (k) => (typeof read[k] === 'number' ? read[k] : 0);
    let s = `Read ${n('files')} file${n('files') === 1 ? '' : 's'}, ${n('records')} record${n('records') === 1 ? '' : 's'}, ${bytes(n('bytes'))}`;
    const trouble = [];
    if (n('malformed')) trouble.push(`${n('malformed')} malformed`);
    if (n('torn')) trouble.push(`${n('torn')} torn`);
    if (n('ioErrors')) trouble.push(`${n('ioErrors')} I/O errors`);
    if (trouble.length) s += ` — skipped: ${trouble.join(', ')}`;
    return `${s}.`;
  }

  const hasTrouble = (read) => isObject(read) && (read.malformed > 0 || read.torn > 0 || read.ioErrors > 0);

  function bytes(n) {
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }

  // ---- wiring --------------------------------------------------------------------------

  function start() {
    $('#login-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const input = $('#key');
      const key = input.value.trim();
      const err = $('#login-error');
      if (!key) return;
      const button = $('#login-form button');
      button.disabled = true;
      try {
        // One cheap read proves the key before it is kept.
        await api('/api/events', new URLSearchParams({ limit: '1' }), undefined, key);
        sessionStorage.setItem(KEY_STORE, key);
        input.value = '';
        err.hidden = true;
        showApp();
        select(current(), { focus: true });
      } catch (e) {
        err.textContent = e instanceof Unauthorized
          ? `The server refused this key: ${e.message}`
          : `Could not check the key: ${e.message}`;
        err.hidden = false;
        input.select();
      } finally {
        button.disabled = false;
      }
    });

    $('#forget').addEventListener('click', () => {
      forgetKey();
      abortAll();
      showLogin('');
    });

    $('#filters').addEventListener('submit', (ev) => {
      ev.preventDefault();
      refresh(current());
    });
    for (const form of $$('form.options')) {
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        refresh(form.dataset.view);
      });
      for (const s of $$('select', form)) {
        s.addEventListener('change', () => refresh(form.dataset.view));
      }
    }
    $('.older', panel('search')).addEventListener('click', older);

    const tabs = $$('[role="tab"]');
    tabs.forEach((tab, i) => {
      tab.addEventListener('click', () => select(tab.dataset.view));
      // The WAI-ARIA tabs pattern: arrows, Home and End move between tabs.
      tab.addEventListener('keydown', (ev) => {
        const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
        if (to === undefined) return;
        ev.preventDefault();
        select(tabs[(to + tabs.length) % tabs.length].dataset.view, { focus: true });
      });
    });

    const initial = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : 'search';
    if (getKey()) {
      showApp();
      select(initial);
    } else {
      select(initial, { load: false });
      showLogin('');
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
