// The operator console: client of the operator API of package chat
// (/api/operator/…, see docs) and of the sign-in under /console/.
// Every state-changing request carries the X-CSRF-Token header with the token
// that the sign-in returned; the session cookie itself is HttpOnly.
// What the operator's role may not do (the sign-in's "can" table) is hidden;
// the server refuses it anyway (403).
(() => {
  'use strict';
  const $ = id => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  };
  const POLL_MS = 5000, SSE_RETRY_MS = 30000, STATS_MS = 60000;
  const STATE = { handoff_pending: 'Waiting', agent: 'Operator', bot: 'Assistant' };
  const ROLE = { shopper: 'Shopper', bot: 'Assistant', agent: 'Operator' };

  let csrf = '', me = '', can = {};
  let selected = null;     // id of the conversation shown
  let current = null;      // its session object
  let cursor = '';         // next page of the list
  let stream = null, pollTimer = 0, sseTimer = 0, statsTimer = 0;
  const debounced = {};
  const later = (key, fn, ms) => { clearTimeout(debounced[key]); debounced[key] = setTimeout(fn, ms); };

  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, method, body) {
    const headers = { Accept: 'application/json' };
    const opts = { method: method || 'GET', headers, credentials: 'same-origin' };
    if (opts.method !== 'GET') headers['X-CSRF-Token'] = csrf;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    if (resp.status === 401 && path !== '/console/login') {
      signedOut('Your sign-in has ended. Please sign in again.');
      throw new APIError(401, 'not signed in');
    }
    if (!resp.ok) {
      const b = await resp.json().catch(() => ({}));
      throw new APIError(resp.status, b.error || resp.statusText);
    }
    return resp.status === 204 ? null : resp.json();
  }

  // ---- sign-in ----
  function signedOut(message) {
    stopLive();
    csrf = me = '';
    can = {};
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $(($('login-name').value ? 'login-password' : 'login-name')).focus();
  }

  function signedIn(info) {
    csrf = info.csrf_token;
    me = info.operator;
    can = info.can || {};
    $('me').textContent = me;
    $('role').textContent = info.role || '';
    $('takeover').hidden = $('handback').hidden = $('reply').hidden = !can.takeover;
    $('readonly').hidden = !!can.takeover;
    $('export').hidden = !can.export;
    $('audit').hidden = !can.view_audit;
    $('audit-list').textContent = '';
    $('login').hidden = true;
    $('app').hidden = false;
    $('login-password').value = '';
    loadList();
    loadStats();
    startLive();
    $('search').focus();
  }

  $('login-form').addEventListener('submit', async e => {
    e.preventDefault();
    const name = $('login-name').value.trim(), password = $('login-password').value;
    if (!name || !password) { $('login-error').textContent = 'Give your name and your password.'; return; }
    try {
      signedIn(await api('/console/login', 'POST', { name, password }));
    } catch (err) {
      $('login-error').textContent = err.status === 401 ? 'Wrong name or password.' : err.message;
      $('login-password').select();
    }
  });

  $('logout').addEventListener('click', async () => {
    try { await api('/console/logout', 'POST'); } catch (err) { /* signed out either way */ }
    signedOut('You are signed out.');
  });

  // ---- live updates: Server-Sent Events, polling while they are unavailable ----
  function startLive() {
    stopLive();
    statsTimer = setInterval(loadStats, STATS_MS);
    if (!window.EventSource) { startPolling(); return; }
    stream = new EventSource('/api/operator/stream');
    stream.onopen = () => {
      clearInterval(pollTimer);
      pollTimer = 0;
      setLive('Live', true);
    };
    stream.onmessage = e => {
      let ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      if (ev.type !== 'session') return;
      later('list', loadList, 250);
      if (ev.id === selected) later('conv', () => loadConversation(selected, true), 150);
    };
    stream.onerror = () => {
      if (stream.readyState !== EventSource.CLOSED) { setLive('Reconnecting…', false); return; }
      // The browser gave up (the stream is not served, or sign-in ended):
      // poll, and try the stream again later.
      stream = null;
      startPolling();
      sseTimer = setTimeout(startLive, SSE_RETRY_MS);
    };
  }
  function startPolling() {
    setLive('Updating every ' + POLL_MS / 1000 + ' s', false);
    if (!pollTimer) pollTimer = setInterval(() => { loadList(); if (selected) loadConversation(selected, true); }, POLL_MS);
  }
  function stopLive() {
    if (stream) stream.close();
    stream = null;
    clearInterval(pollTimer);
    clearInterval(statsTimer);
    clearTimeout(sseTimer);
    pollTimer = statsTimer = sseTimer = 0;
  }
  function setLive(text, on) {
    $('live').textContent = text;
    $('live').classList.toggle('on', on);
  }

  // ---- conversation list ----
  const rel = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  function ago(ts) {
    const s = (Date.parse(ts) - Date.now()) / 1000;
    if (!isFinite(s)) return '';
    for (const [unit, n] of [['day', 86400], ['hour', 3600], ['minute', 60]]) if (Math.abs(s) >= n) return rel.format(Math.round(s / n), unit);
    return 'just now';
  }
  const shortID = id => id.slice(0, 8);

  async function loadList(more) {
    const params = new URLSearchParams({ limit: '50' });
    const q = $('search').value.trim(), state = $('state').value;
    if (q) params.set('q', q);
    if (state) params.set('state', state);
    if (more && cursor) params.set('cursor', cursor);
    let page;
    try {
      page = await api('/api/operator/sessions?' + params);
    } catch (err) {
      if (err.status !== 401) $('list-summary').textContent = 'Cannot load conversations: ' + err.message;
      return;
    }
    const list = $('sessions');
    if (!more) list.textContent = '';
    for (const s of page.sessions || []) list.append(item(s));
    cursor = page.next || '';
    $('more').hidden = !cursor;
    const n = list.children.length;
    const waiting = list.querySelectorAll('.badge.handoff_pending').length;
    $('list-summary').textContent = (n ? n + (cursor ? '+' : '') + ' conversation' + (n === 1 ? '' : 's') : q ? 'No conversation mentions “' + q + '”.' : 'No conversations yet.') +
      (waiting ? ' · ' + waiting + ' waiting for a person' : '');
  }

  function item(s) {
    const li = el('li'), b = el('button');
    b.type = 'button';
    b.dataset.id = s.id;
    b.setAttribute('aria-current', s.id === selected ? 'true' : 'false');
    b.append(el('span', 'badge ' + s.state, STATE[s.state] || s.state), el('span', 'sid', shortID(s.id) + (s.user_id ? ' · ' + s.user_id : '')), el('span', 'when', ago(s.updated_at)));
    const last = el('span', 'last', s.last_text ? (ROLE[s.last_role] || s.last_role) + ': ' + s.last_text : 'No messages');
    b.append(last);
    b.setAttribute('aria-label', `${STATE[s.state] || s.state}, conversation ${shortID(s.id)}, ${s.turns} turns, updated ${ago(s.updated_at)}. ${last.textContent}`);
    b.addEventListener('click', () => openConversation(s.id));
    li.append(b);
    return li;
  }

  $('search').addEventListener('input', () => later('list', () => loadList(), 250));
  $('filter').addEventListener('submit', e => { e.preventDefault(); loadList(); });
  $('state').addEventListener('change', () => loadList());
  $('more').addEventListener('click', () => loadList(true));

  // ---- one conversation ----
  function openConversation(id) {
    selected = id;
    for (const b of $('sessions').querySelectorAll('button')) b.setAttribute('aria-current', b.dataset.id === id ? 'true' : 'false');
    $('app').classList.add('showing');
    loadConversation(id, false);
  }

  $('back').addEventListener('click', () => {
    $('app').classList.remove('showing');
    const b = $('sessions').querySelector(`button[data-id="${CSS.escape(selected || '')}"]`);
    if (b) b.focus();
  });

  async function loadConversation(id, refresh) {
    let data;
    try {
      data = await api('/api/operator/sessions/' + encodeURIComponent(id));
    } catch (err) {
      if (err.status !== 401) $('conv-error').textContent = 'Cannot load the conversation: ' + err.message;
      return;
    }
    if (id !== selected) return; // another one was chosen meanwhile
    current = data.session;
    $('empty').hidden = true;
    $('conv').hidden = false;
    if (!refresh) $('conv-error').textContent = '';
    $('conv-title').textContent = 'Conversation ' + shortID(id);
    const who = current.state === 'agent' ? (current.operator === me ? 'you are talking to the shopper' : (current.operator || 'an operator') + ' is talking to the shopper')
      : current.state === 'handoff_pending' ? 'the shopper is waiting for a person' : 'the assistant is answering';
    $('conv-sub').textContent = (current.user_id ? 'shopper ' + current.user_id + ' · ' : '') + current.turns + ' turns · ' + who;
    $('export').href = '/api/operator/sessions/' + encodeURIComponent(id) + '/export';
    $('export').setAttribute('download', 'conversation-' + id + '.json');
    const mine = current.state === 'agent' && current.operator === me;
    $('takeover').disabled = mine;
    $('handback').disabled = !mine;
    $('reply-text').disabled = !mine;
    $('reply').querySelector('button').disabled = !mine;
    $('reply-text').placeholder = mine ? 'Write to the shopper (Enter sends, Shift+Enter for a new line)' : 'Take over to reply to the shopper';

    const log = $('transcript');
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    const shown = new Set(Array.from(log.children, li => li.dataset.id));
    if (!refresh || (data.turns || []).some((t, i) => log.children[i] && log.children[i].dataset.id !== t.id)) {
      log.textContent = '';
      shown.clear();
    }
    for (const t of data.turns || []) {
      if (shown.has(t.id)) continue;
      log.append(turn(t));
    }
    if (!refresh || stick) log.scrollTop = log.scrollHeight;
  }

  function turn(t) {
    const li = el('li', 'turn ' + t.role);
    li.dataset.id = t.id;
    const head = el('div', 'head');
    const at = new Date(t.at);
    head.append(el('b', null, ROLE[t.role] || t.role), ' · ' + (isNaN(at) ? '' : at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
    if (t.intent) head.append(el('span', 'tag', t.intent));
    if (t.feedback === 1 || (t.feedback && t.feedback.rating === 1)) head.append(el('span', 'tag up', 'rated helpful'));
    if (t.feedback === -1 || (t.feedback && t.feedback.rating === -1)) head.append(el('span', 'tag down', 'rated not helpful'));
    li.append(head, el('div', 'text', t.text));
    if (t.original_kept && can.view_original) li.append(originalButton(t.id));
    if (t.products && t.products.length) {
      const ul = el('ul', 'products');
      for (const p of t.products.slice(0, 5)) ul.append(el('li', null, p.title + (p.price > 0 ? ' · ' + money(p.price, p.currency) : '')));
      if (t.products.length > 5) ul.append(el('li', null, '… and ' + (t.products.length - 5) + ' more'));
      li.append(ul);
    }
    return li;
  }

  // originalButton fetches the message as written before redaction (admins;
  // each view is recorded in the audit log) and shows it under the turn.
  function originalButton(msg) {
    const b = el('button', 'ghost show-orig', 'Show original');
    b.type = 'button';
    b.title = 'Personal data was hidden in this message. Viewing it is recorded in the audit log.';
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const o = await api('/api/operator/sessions/' + encodeURIComponent(selected) + '/messages/' + encodeURIComponent(msg) + '/original');
        const box = el('div', 'orig', o.text);
        box.setAttribute('aria-label', 'Original message');
        b.replaceWith(box);
      } catch (err) {
        if (err.status !== 401) $('conv-error').textContent = 'Cannot show the original: ' + err.message;
        b.disabled = false;
      }
    });
    return b;
  }

  const fmts = {};
  function money(p, c) {
    try { return (fmts[c] = fmts[c] || new Intl.NumberFormat(undefined, { style: 'currency', currency: c || 'EUR' })).format(p); } catch (e) { return p.toFixed(2) + ' ' + c; }
  }

  async function act(path, body) {
    $('conv-error').textContent = '';
    const id = selected;
    try {
      await api('/api/operator/sessions/' + encodeURIComponent(id) + '/' + path, 'POST', body);
      return true;
    } catch (err) {
      if (err.status === 409) $('conv-error').textContent = 'Someone else is talking to this shopper, or the conversation is not yours: ' + err.message;
      else if (err.status !== 401) $('conv-error').textContent = err.message;
      return false;
    } finally {
      if (id === selected) await loadConversation(id, true);
      loadList();
    }
  }

  $('takeover').addEventListener('click', async () => {
    if (await act('takeover')) $('reply-text').focus();
  });
  $('handback').addEventListener('click', () => act('handback'));
  $('reply').addEventListener('submit', async e => {
    e.preventDefault();
    const box = $('reply-text'), text = box.value.trim();
    if (!text) return;
    box.disabled = true;
    if (await act('messages', { text })) box.value = '';
    box.disabled = !(current && current.state === 'agent' && current.operator === me);
    box.focus();
  });
  $('reply-text').addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); $('reply').requestSubmit(); }
  });

  // ---- analytics ----
  async function loadStats() {
    let a;
    try { a = await api('/api/operator/analytics?hours=24'); } catch (err) { return; }
    $('k-sessions').textContent = a.sessions != null ? a.sessions : '–';
    $('k-handoff').textContent = a.handoff_rate != null ? (a.handoff_rate * 100).toFixed(a.handoff_rate > 0 && a.handoff_rate < 0.1 ? 1 : 0) + '%' : '–';
    $('k-up').textContent = a.feedback ? a.feedback.up : '–';
    $('k-down').textContent = a.feedback ? a.feedback.down : '–';
    chart(a.turns_per_hour || []);
    const intents = Object.entries(a.intents || {}).sort((x, y) => y[1] - x[1]).slice(0, 8);
    const top = intents.length ? intents[0][1] : 0;
    const ul = $('intents');
    ul.textContent = '';
    for (const [name, n] of intents) {
      const li = el('li'), track = el('span', 'track'), fill = el('span', 'fill');
      fill.style.width = (top ? 100 * n / top : 0) + '%'; // CSSOM: allowed by the style-src CSP
      track.append(fill);
      track.setAttribute('aria-hidden', 'true');
      li.append(el('span', null, name.replace(/_/g, ' ')), el('b', null, String(n)), track);
      ul.append(li);
    }
    if (!intents.length) ul.append(el('li', 'hint', 'No turns yet.'));
  }

  // chart draws turns per hour as an inline SVG bar chart.
  function chart(rows) {
    const ns = 'http://www.w3.org/2000/svg', W = 268, H = 96, pad = 14;
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', `0 0 ${W} ${H + pad}`);
    const max = Math.max(1, ...rows.map(r => r.turns));
    const total = rows.reduce((s, r) => s + r.turns, 0);
    const peak = rows.reduce((p, r) => (r.turns > (p ? p.turns : -1) ? r : p), null);
    const hour = ts => { const d = new Date(ts); return isNaN(d) ? String(ts) : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }); };
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', rows.length ? `Turns per hour: ${total} in all, most (${peak.turns}) at ${hour(peak.hour)}.` : 'No turns yet.');
    const bw = rows.length ? W / rows.length : W;
    rows.forEach((r, i) => {
      const h = Math.round((H - 4) * r.turns / max);
      const rect = document.createElementNS(ns, 'rect');
      for (const [k, v] of [['x', i * bw + 1], ['y', H - h], ['width', Math.max(1, bw - 2)], ['height', Math.max(h, r.turns ? 1 : 0)], ['rx', 1.5]]) rect.setAttribute(k, v);
      const tip = document.createElementNS(ns, 'title');
      tip.textContent = `${hour(r.hour)}: ${r.turns} turns`;
      rect.append(tip);
      svg.append(rect);
      if (i % 6 === 0) {
        const t = document.createElementNS(ns, 'text');
        t.setAttribute('x', i * bw + 1);
        t.setAttribute('y', H + pad - 2);
        t.textContent = hour(r.hour);
        svg.append(t);
      }
    });
    const base = document.createElementNS(ns, 'line');
    for (const [k, v] of [['x1', 0], ['x2', W], ['y1', H + 0.5], ['y2', H + 0.5], ['stroke', '#c3c8d2']]) base.setAttribute(k, v);
    svg.append(base);
    $('chart').replaceChildren(svg);
  }

  // ---- audit log (admins) ----
  $('audit-load').addEventListener('click', async () => {
    $('audit-error').textContent = '';
    let page;
    try { page = await api('/api/operator/audit?limit=50'); } catch (err) {
      if (err.status !== 401) $('audit-error').textContent = 'Cannot load the audit log: ' + err.message;
      return;
    }
    const ul = $('audit-list');
    ul.textContent = '';
    for (const r of page.records || []) {
      const at = new Date(r.time);
      const li = el('li', r.outcome);
      li.dataset.action = r.action;
      li.append(el('b', null, r.operator || '(unknown)'), (r.role ? ' (' + r.role + ')' : '') + ' · ' + r.action.replace(/_/g, ' ') +
        (r.outcome !== 'ok' ? ' · ' + r.outcome : '') + (r.session ? ' · ' + shortID(r.session) : '') +
        ' · ' + (isNaN(at) ? '' : at.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' })));
      ul.append(li);
    }
    if (!ul.children.length) ul.append(el('li', 'hint', 'Nothing recorded yet.'));
  });

  // ---- start ----
  fetch('/console/session', { credentials: 'same-origin', headers: { Accept: 'application/json' } })
    .then(r => (r.ok ? r.json().then(signedIn) : signedOut()))
    .catch(() => signedOut('The server cannot be reached.'));
})();
