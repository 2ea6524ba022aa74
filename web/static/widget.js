/*! shopassist chat widget · protocol v1 (docs/protocol.md) · one file, no dependencies.
 * Embed on any page:
 *   <script src="https://assist.example/widget.js" data-endpoint="wss://assist.example/ws" async></script>
 * Attributes: data-endpoint (default: ws(s):// + the script's host + /ws), data-user-id (the
 * store's id of a signed-in shopper), data-title, data-color (accent colour).
 * The widget lives in a Shadow DOM root: the page's styles do not reach it, and its styles do not
 * leak out. Styles are a constructed stylesheet, so a strict style-src CSP needs no 'unsafe-inline'.
 * Icons: Material Icons paths (Apache License 2.0). */
(() => {
  'use strict';
  if (window.__shopassist) return; // loaded twice
  window.__shopassist = true;

  const script = document.currentScript;
  const ds = (script && script.dataset) || {};
  const base = script && script.src ? new URL(script.src, location.href) : location;
  const endpoint = ds.endpoint || (base.protocol === 'https:' ? 'wss://' : 'ws://') + base.host + '/ws';
  const KEY = 'shopassist:' + endpoint; // localStorage: session id; sessionStorage: panel open
  const MAX_BYTES = 4096; // protocol limit on message text, in bytes of UTF-8
  const BUSY_RETRIES = 4;
  const WORDS = {
    busy: "We're busy, trying again…",
    busy_final: "We're very busy right now. Please try again in a minute.",
    unavailable: "We can't reach the conversation right now. Please try again in a moment.",
    timeout: 'Sorry, that took too long to answer. Please try again.',
    too_large: 'That message is too long. Please keep it under 4,000 characters.',
    internal: 'Something went wrong on our side. Please try again.',
    handoff_pending: "We're connecting you with a person from our team…",
    agent: "You're now talking to a person from our team.",
    bot: "You're back with the shopping assistant.",
  };

  // ---- small helpers ----
  const store = (kind, v) => { // kind: localStorage or sessionStorage; v undefined = read
    try {
      const s = window[kind];
      if (v === undefined) return s.getItem(KEY);
      if (v === null) s.removeItem(KEY); else s.setItem(KEY, v);
    } catch (e) { /* storage disabled: the session lasts as long as the page */ }
    return null;
  };
  const h = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const k in attrs) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    e.append(...kids.filter(k => k != null));
    return e;
  };
  const icon = (d, size) => {
    const ns = 'http://www.w3.org/2000/svg', s = document.createElementNS(ns, 'svg'), p = document.createElementNS(ns, 'path');
    for (const [k, v] of [['viewBox', '0 0 24 24'], ['width', size || 20], ['height', size || 20], ['aria-hidden', 'true'], ['fill', 'currentColor']]) s.setAttribute(k, v);
    p.setAttribute('d', d);
    s.append(p);
    return s;
  };
  const ICON = {
    chat: 'M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z',
    send: 'M2.01 21L23 12 2.01 3 2 10l15 2-15 2z',
    close: 'M19 6.41L17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z',
    up: 'M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z',
    down: 'M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z',
  };
  const safeURL = u => { // only http(s) links and images; never javascript:
    try { const x = new URL(u, location.href); return x.protocol === 'https:' || x.protocol === 'http:' ? x.href : null; } catch (e) { return null; }
  };
  const money = (() => {
    const fmts = {};
    return (price, cur) => {
      if (!(price > 0)) return '';
      try {
        fmts[cur] = fmts[cur] || new Intl.NumberFormat(navigator.language || 'en', { style: 'currency', currency: cur || 'EUR' });
        return fmts[cur].format(price);
      } catch (e) { return price.toFixed(2) + ' ' + (cur || ''); }
    };
  })();
  const newID = () => 'c_' + Array.from(crypto.getRandomValues(new Uint8Array(9)), b => b.toString(36).padStart(2, '0')).join('');

  // ---- DOM, inside a shadow root ----
  // A custom element name: the page's rules for div, section … do not match the host.
  const host = h('shopassist-widget', { id: 'shopassist-widget' });
  const root = host.attachShadow({ mode: 'open' });
  if (ds.color) host.style.setProperty('--sa-accent', ds.color);
  const css = `
:host{all:initial}
/* The page can still style the host (a !important rule on *), and inherited
   properties flow from it: .root resets them all again. */
*{box-sizing:border-box}
[hidden]{display:none!important}
.root{all:initial;--a:var(--sa-accent,#2457d6);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button{font:inherit;cursor:pointer;color:inherit}
:focus-visible{outline:3px solid var(--a);outline-offset:2px}
.launcher{position:fixed;right:20px;bottom:20px;width:58px;height:58px;border-radius:50%;border:0;background:var(--a);color:#fff;box-shadow:0 4px 16px rgba(0,0,0,.28);display:grid;place-items:center;z-index:2147483000}
.badge{position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;border-radius:10px;background:#d92d20;color:#fff;font-size:12px;font-weight:700;display:grid;place-items:center;padding:0 5px}
.panel{position:fixed;right:20px;bottom:90px;width:384px;height:min(640px,calc(100vh - 110px));background:#fff;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.24);display:flex;flex-direction:column;overflow:hidden;z-index:2147483001}
header{display:flex;align-items:center;gap:10px;padding:12px 10px 12px 16px;background:var(--a);color:#fff}
header .t{flex:1;min-width:0}
header strong{display:block;font-size:15px}
.st{font-size:12px;opacity:.92}
.st::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:#c2c8d2;margin-right:6px}
.st.on::before{background:#3ddc84}
.x{background:transparent;border:0;color:#fff;width:40px;height:40px;border-radius:8px;display:grid;place-items:center}
.x:hover{background:rgba(255,255,255,.16)}
.x:focus-visible{outline-color:#fff;outline-offset:-3px}
.scroll{flex:1;overflow-y:auto;padding:14px;background:#f6f7f9;overscroll-behavior:contain}
.log{display:flex;flex-direction:column;gap:10px}
.msg{display:flex;flex-direction:column;align-items:flex-start;max-width:100%}
.me{align-items:flex-end}
.bubble{max-width:88%;padding:9px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere}
.bubble:empty{display:none}
.me .bubble{background:var(--a);color:#fff;border-bottom-right-radius:4px}
.bot .bubble{background:#fff;border:1px solid #e1e4ea;border-bottom-left-radius:4px}
.agent .bubble{background:#e6f5ec;border:1px solid #aedbc0;border-bottom-left-radius:4px}
.who{font-size:12px;color:#0b6b3a;font-weight:600;margin:0 0 3px 4px}
.meta{font-size:11.5px;color:#6b7280;margin:3px 4px 0}
.notice{align-self:center;text-align:center;font-size:12.5px;color:#3f4756;background:#e9ecf1;border-radius:10px;padding:6px 12px;max-width:92%}
.notice.err{background:#fdecea;color:#8a1c12}
.notice button{margin-left:6px;border:0;background:none;text-decoration:underline;font-weight:600;padding:0}
.cards{display:flex;gap:8px;overflow-x:auto;padding:8px 2px 6px;scroll-snap-type:x mandatory;max-width:100%}
.card{flex:0 0 150px;scroll-snap-align:start;background:#fff;border:1px solid #e1e4ea;border-radius:10px;padding:8px;display:flex;flex-direction:column;gap:2px;color:inherit;text-decoration:none;font-size:12.5px;cursor:pointer}
.card:hover{border-color:var(--a)}
.card img,.ph{width:100%;height:96px;object-fit:contain;border-radius:6px;margin-bottom:4px}
.ph{display:grid;place-items:center;background:#eef0f4;color:#7b8494;font-size:30px;font-weight:700}
.ti{display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden;font-weight:500}
.br{color:#6b7280}
.pr{font-weight:700;margin-top:auto}
.sp{align-self:flex-start;font-size:10.5px;text-transform:uppercase;letter-spacing:.04em;background:#fff1c7;color:#6d4c00;border-radius:4px;padding:1px 5px}
.fb{display:flex;gap:2px;margin:2px 0 0 2px}
.fb button{border:1px solid transparent;background:none;border-radius:6px;padding:4px 5px;color:#7b8494;display:grid}
.fb button:hover{background:#e9ecf1;color:#1d2330}
.fb [aria-pressed=true]{color:var(--a);border-color:currentColor}
.typing{display:flex;gap:4px;padding:12px 14px;background:#fff;border:1px solid #e1e4ea;border-radius:14px;width:max-content;margin-top:10px}
.typing i{width:7px;height:7px;border-radius:50%;background:#9aa3b2;animation:b 1.2s infinite}
.typing i:nth-child(2){animation-delay:.2s}.typing i:nth-child(3){animation-delay:.4s}
@keyframes b{0%,60%,100%{transform:none;opacity:.5}30%{transform:translateY(-4px);opacity:1}}
@media (prefers-reduced-motion:reduce){.typing i{animation:none}}
.chips{display:flex;gap:6px;flex-wrap:wrap;padding:8px 12px 0;background:#fff;border-top:1px solid #e1e4ea}
.chip{border:1px solid var(--a);color:var(--a);background:#fff;border-radius:16px;padding:5px 12px;font-size:13px}
.chip:hover{background:var(--a);color:#fff}
form{display:flex;gap:8px;align-items:flex-end;padding:10px 12px 12px;background:#fff}
.chips[hidden]+form{border-top:1px solid #e1e4ea}
textarea{flex:1;resize:none;font:inherit;line-height:20px;height:40px;padding:9px 12px;border:1px solid #bfc5cf;border-radius:10px;max-height:120px;color:inherit;background:#fff}
textarea:focus-visible{outline:2px solid var(--a);outline-offset:0;border-color:var(--a)}
.send{width:40px;height:40px;border:0;border-radius:10px;background:var(--a);color:#fff;display:grid;place-items:center;flex:none}
@media (max-width:480px){.panel{inset:0;width:auto;height:auto;border-radius:0}.launcher.open{display:none}}
`;
  if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } else {
    root.append(h('style', { text: css }));
  }

  const title = ds.title || 'Shopping assistant';
  const badge = h('span', { class: 'badge', hidden: true, 'aria-hidden': 'true' });
  const launcher = h('button', { class: 'launcher', type: 'button', 'aria-label': 'Open chat with the ' + title.toLowerCase(), 'aria-expanded': 'false', 'aria-controls': 'sa-panel', onclick: () => (panel.hidden ? open() : close()) }, icon(ICON.chat, 26), badge);
  const statusEl = h('span', { class: 'st', role: 'status', text: 'Connecting…' });
  const log = h('div', { class: 'log', role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-label': 'Conversation' });
  const typing = h('div', { class: 'typing', hidden: true }, h('i'), h('i'), h('i'), h('span', { class: 'sr', text: 'The assistant is typing' }));
  const scroll = h('div', { class: 'scroll' }, log, typing);
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Suggested replies', hidden: true });
  const input = h('textarea', { id: 'sa-input', rows: '1', placeholder: 'Ask about products, orders, returns…', enterkeyhint: 'send', autocomplete: 'off' });
  const form = h('form', { onsubmit: e => { e.preventDefault(); submit(); } },
    h('label', { class: 'sr', for: 'sa-input', text: 'Message' }), input,
    h('button', { class: 'send', type: 'submit', 'aria-label': 'Send message' }, icon(ICON.send)));
  const panel = h('section', { class: 'panel', id: 'sa-panel', role: 'dialog', 'aria-label': title, hidden: true },
    h('header', {}, h('div', { class: 't' }, h('strong', { text: title }), statusEl),
      h('button', { class: 'x', type: 'button', 'aria-label': 'Close chat', onclick: () => close() }, icon(ICON.close))),
    scroll, chips, form);
  root.append(h('div', { class: 'root' }, launcher, panel));

  // ---- state ----
  let ws = null;          // the open or opening socket
  let ready = false;      // the session is settled: messages may be sent
  let attempt = 0;        // reconnect attempts since the last settled session
  let retryTimer = 0;
  let sessionID = store('localStorage');
  let handoff = 'bot';
  let unread = 0;
  const pending = new Map(); // client message id → {text, tries, sock (the socket it went out on)}: not yet answered
  const seen = new Set();    // ids of the messages on screen (dedupes history and repeated frames)
  const live = new Map();    // reply_to → bot message element of a turn in progress

  // The conversation stays scrolled to the newest message unless the
  // shopper has scrolled up to read.
  let pinned = true;
  scroll.addEventListener('scroll', () => { pinned = scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight < 120; });
  const toBottom = () => { scroll.scrollTop = scroll.scrollHeight; };
  new MutationObserver(() => { if (pinned) toBottom(); })
    .observe(scroll, { childList: true, subtree: true, characterData: true, attributes: true, attributeFilter: ['hidden'] });
  const add = (el, before) => log.insertBefore(el, before || null);
  const byID = id => log.querySelector(`[data-id="${CSS.escape(id)}"]`);
  const setStatus = (text, on) => { statusEl.textContent = text; statusEl.classList.toggle('on', !!on); };
  const online = () => setStatus(handoff === 'agent' ? 'Online · talking to our team' : 'Online', true);
  const showTyping = on => { typing.hidden = !on; };
  const bump = () => {
    if (!panel.hidden) return;
    unread++;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    badge.hidden = false;
    launcher.setAttribute('aria-label', `Open chat with the ${title.toLowerCase()} (${unread} new)`);
  };

  // ---- rendering ----
  const views = 'IntersectionObserver' in window ? new IntersectionObserver(entries => {
    for (const e of entries) if (e.isIntersecting) { views.unobserve(e.target); track('view', e.target.dataset.pid); }
  }, { root: scroll, threshold: 0.6 }) : null;

  function card(it, fresh) {
    const url = it.url && safeURL(it.url), img = it.image && safeURL(it.image);
    const initial = h('div', { class: 'ph', 'aria-hidden': 'true', text: (it.brand || it.title || '?').trim().charAt(0).toUpperCase() });
    let pic = initial;
    if (img) {
      pic = h('img', { src: img, alt: '', loading: 'lazy', decoding: 'async' });
      pic.addEventListener('error', () => pic.replaceWith(initial), { once: true });
    }
    const c = h(url ? 'a' : 'div', { class: 'card', 'data-pid': it.id, href: url, target: url && '_blank', rel: url && 'noopener' },
      pic,
      it.sponsored ? h('span', { class: 'sp', text: 'Sponsored' }) : null,
      h('span', { class: 'ti', text: it.title }),
      it.brand ? h('span', { class: 'br', text: it.brand }) : null,
      h('span', { class: 'pr', text: money(it.price, it.currency) }));
    c.addEventListener('click', () => track('click', it.id));
    if (fresh && views) views.observe(c);
    return c;
  }

  function cards(items, fresh) {
    return h('div', { class: 'cards', role: 'list', 'aria-label': 'Products' }, ...items.map(it => {
      const c = card(it, fresh);
      c.setAttribute('role', 'listitem');
      return c;
    }));
  }

  function shopperEl(id, text) {
    seen.add(id);
    return h('div', { class: 'msg me', 'data-id': id },
      h('span', { class: 'sr', text: 'You said:' }), h('div', { class: 'bubble', text }), h('div', { class: 'meta', hidden: true }));
  }

  function feedback(id) {
    const rate = (btn, other, rating) => {
      send({ type: 'feedback', message_id: id, rating });
      btn.setAttribute('aria-pressed', 'true');
      other.setAttribute('aria-pressed', 'false');
    };
    const up = h('button', { type: 'button', 'aria-label': 'Helpful', 'aria-pressed': 'false' }, icon(ICON.up, 16));
    const down = h('button', { type: 'button', 'aria-label': 'Not helpful', 'aria-pressed': 'false' }, icon(ICON.down, 16));
    up.onclick = () => rate(up, down, 1);
    down.onclick = () => rate(down, up, -1);
    return h('div', { class: 'fb', role: 'group', 'aria-label': 'Was this answer helpful?' }, up, down);
  }

  // botEl returns the element of a bot answer to replyTo, creating it.
  function botEl(replyTo) {
    let el = replyTo && live.get(replyTo);
    if (!el) {
      el = h('div', { class: 'msg bot', 'aria-busy': 'true' }, h('span', { class: 'sr', text: 'Assistant:' }), h('div', { class: 'bubble' }));
      if (replyTo) live.set(replyTo, el);
      add(el);
    }
    return el;
  }

  function finishBot(el, id, text, products, fresh) {
    seen.add(id);
    el.dataset.id = id;
    el.querySelector('.bubble').textContent = text;
    if (products && products.length && !el.querySelector('.cards')) el.append(cards(products, fresh));
    el.append(feedback(id));
    el.removeAttribute('aria-busy');
  }

  function agentEl(id, text) {
    seen.add(id);
    return h('div', { class: 'msg agent', 'data-id': id },
      h('div', { class: 'who', text: 'Our team' }), h('span', { class: 'sr', text: 'says:' }), h('div', { class: 'bubble', text }));
  }

  // notice shows a line of plain words; key (a message id) replaces the
  // previous notice of the same key. retry adds a "Try again" button.
  function notice(key, text, err, retry) {
    const old = key && log.querySelector(`.notice[data-key="${CSS.escape(key)}"]`);
    const el = h('div', { class: 'notice' + (err ? ' err' : ''), 'data-key': key }, text);
    if (retry) el.append(h('button', { type: 'button', text: 'Try again', onclick: () => { el.remove(); retry(); } }));
    if (old) old.replaceWith(el); else add(el);
  }
  const clearNotice = key => { const n = log.querySelector(`.notice[data-key="${CSS.escape(key)}"]`); if (n) n.remove(); };

  function setChips(list) {
    chips.textContent = '';
    for (const text of list || []) chips.append(h('button', { class: 'chip', type: 'button', text, onclick: () => say(text) }));
    chips.hidden = !chips.firstChild;
  }

  // A shopper message waiting for the connection carries a note.
  const setMeta = (id, text) => {
    const m = byID(id) && byID(id).querySelector('.meta');
    if (m) { m.textContent = text || ''; m.hidden = !text; }
  };

  // ---- frames ----
  function onFrame(f) {
    switch (f.type) {
      case 'session':
        sessionID = f.session_id;
        store('localStorage', sessionID);
        // A resumed session is settled by its history; a new one is settled
        // already when it was started by our first message.
        if (!f.resumed && !ready) settle();
        break;
      case 'history': {
        const stored = new Set();
        const anchor = log.querySelector('.queued'); // history goes before messages not yet sent
        for (const t of f.turns || []) {
          if (t.role === 'shopper') stored.add(t.id);
          if (seen.has(t.id)) continue;
          if (t.role === 'shopper') add(shopperEl(t.id, t.text), anchor);
          else if (t.role === 'agent') add(agentEl(t.id, t.text), anchor);
          else {
            const el = h('div', { class: 'msg bot' }, h('span', { class: 'sr', text: 'Assistant:' }), h('div', { class: 'bubble' }));
            add(el, anchor);
            finishBot(el, t.id, t.text, t.products, false);
          }
        }
        // A message the server stored before the socket dropped is not sent again.
        for (const id of [...pending.keys()]) if (stored.has(id)) { pending.delete(id); setMeta(id, ''); }
        settle();
        break;
      }
      case 'typing':
        showTyping(true);
        break;
      case 'products':
        botEl(f.reply_to).append(cards(f.items || [], true));
        break;
      case 'token': {
        showTyping(false);
        const b = botEl(f.reply_to).querySelector('.bubble');
        b.textContent += f.text || '';
        break;
      }
      case 'message':
        if (seen.has(f.id)) break;
        showTyping(false);
        if (f.role === 'agent') add(agentEl(f.id, f.text));
        else finishBot(botEl(f.reply_to), f.id, f.text, null, true);
        if (f.reply_to) clearNotice(f.reply_to); // e.g. "busy, trying again"
        if (f.role !== 'agent') setChips(f.suggestions);
        bump();
        break;
      case 'done':
        showTyping(false);
        answered(f.reply_to);
        break;
      case 'error':
        showTyping(false);
        onError(f);
        break;
      case 'handoff':
        if (f.state !== handoff) {
          handoff = f.state;
          const text = f.message || WORDS[f.state];
          if (text) notice(null, text);
          if (ready) online();
        }
        break;
    }
  }

  function answered(id) {
    pending.delete(id);
    live.delete(id);
    clearNotice(id);
  }

  function onError(f) {
    const id = f.reply_to, p = id && pending.get(id);
    if (!p) {
      // Not about a message: a failed hello (store down) makes us reconnect;
      // events and feedback are best-effort and not worth the shopper's attention.
      if (!ready && ws) { notice('conn', WORDS[f.code] || WORDS.unavailable, true); ws.close(); }
      else if (window.console) console.warn('shopassist:', f.code, f.message);
      return;
    }
    const el = live.get(id);
    if (el && !el.dataset.id) el.remove();
    live.delete(id);
    if (f.code === 'busy' && p.tries < BUSY_RETRIES) {
      // Not stored by the server: the same id is sent again after a pause.
      p.tries++;
      p.sock = null;
      notice(id, WORDS.busy);
      setTimeout(() => transmit(id), 1000 * 2 ** p.tries * (0.5 + Math.random() / 2));
      return;
    }
    pending.delete(id);
    const retry = f.code === 'too_large' || f.code === 'empty_text' ? null : () => {
      // busy and unavailable mean the message was not stored: same id. After a
      // timeout or internal error it may have been: a new id.
      let nid = id;
      if (f.code !== 'busy' && f.code !== 'unavailable') {
        nid = newID();
        seen.add(nid);
        const b = byID(id);
        if (b) b.dataset.id = nid;
      }
      pending.set(nid, { text: p.text, tries: 0 });
      if (ready) transmit(nid); else queue(nid);
    };
    const words = f.code === 'busy' ? WORDS.busy_final : WORDS[f.code] || f.message || WORDS.internal;
    notice(id, words, true, retry);
  }

  // ---- connection ----
  function send(frame) {
    if (ws && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function track(type, pid) {
    if (ready && pid) send({ type: 'event', event: { type, product_id: pid, source: 'widget' } });
  }
  function transmit(id) {
    const p = pending.get(id);
    if (!p || (p.sock && p.sock === ws)) return; // sent on this connection already
    if (ready && send({ type: 'message', id, text: p.text })) {
      p.sock = ws;
      const b = byID(id);
      if (b) b.classList.remove('queued');
      setMeta(id, '');
    } else queue(id);
  }
  function queue(id) {
    const b = byID(id);
    if (b) b.classList.add('queued');
    setMeta(id, 'Not sent yet — waiting for the connection');
    connect();
  }
  // settle marks the session ready and sends the queued messages in order.
  function settle() {
    ready = true;
    attempt = 0;
    clearNotice('conn');
    online();
    for (const id of pending.keys()) transmit(id);
  }

  function connect() {
    if (ws) return;
    clearTimeout(retryTimer);
    let sock;
    try { sock = new WebSocket(endpoint); } catch (e) { schedule(); return; }
    ws = sock;
    ready = false;
    setStatus(attempt ? 'Reconnecting…' : 'Connecting…');
    sock.onopen = () => {
      if (sessionID || ds.userId) sock.send(JSON.stringify({ type: 'hello', session_id: sessionID || undefined, user_id: ds.userId || undefined }));
      else settle(); // the first message starts the session
    };
    sock.onmessage = ev => {
      let f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f && typeof f.type === 'string') onFrame(f);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      ready = false;
      showTyping(false);
      // Answers cut off mid-stream come back complete in the history on resume.
      for (const el of live.values()) if (!el.dataset.id) el.remove();
      live.clear();
      for (const id of pending.keys()) { const b = byID(id); if (b) b.classList.add('queued'); }
      setStatus(navigator.onLine === false ? 'Offline' : 'Reconnecting…');
      schedule();
    };
  }
  // Exponential backoff with jitter: 0.5 s doubling to 30 s, each wait drawn
  // from the upper half of the window so that clients spread out.
  function schedule() {
    clearTimeout(retryTimer);
    const cap = Math.min(30000, 500 * 2 ** attempt++);
    retryTimer = setTimeout(connect, cap / 2 + Math.random() * cap / 2);
  }
  const reconnectNow = () => { if (!ws && (sessionID || pending.size || !panel.hidden)) { attempt = 0; connect(); } };
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') reconnectNow(); });

  // ---- input ----
  function say(text) {
    const id = newID();
    pinned = true; // the shopper's own message brings the view down
    add(shopperEl(id, text));
    setChips(null);
    pending.set(id, { text, tries: 0 });
    transmit(id);
  }
  function submit() {
    const text = input.value.trim();
    if (!text) return;
    if (new TextEncoder().encode(text).length > MAX_BYTES) { notice('input', WORDS.too_large, true); return; }
    clearNotice('input');
    input.value = '';
    grow();
    say(text);
  }
  function grow() { // the box grows with its text up to 120 px
    input.style.height = '';
    if (input.scrollHeight > input.clientHeight) input.style.height = Math.min(input.scrollHeight + 2, 120) + 'px';
  }
  input.addEventListener('input', grow);
  input.addEventListener('keydown', e => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
  });
  panel.addEventListener('keydown', e => { if (e.key === 'Escape') { e.stopPropagation(); close(); } });

  function open() {
    panel.hidden = false;
    launcher.classList.add('open');
    launcher.setAttribute('aria-expanded', 'true');
    unread = 0;
    badge.hidden = true;
    launcher.setAttribute('aria-label', 'Close chat with the ' + title.toLowerCase());
    store('sessionStorage', '1');
    if (!ws) { attempt = 0; connect(); }
    pinned = true;
    toBottom();
    input.focus();
  }
  function close() {
    panel.hidden = true;
    launcher.classList.remove('open');
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-label', 'Open chat with the ' + title.toLowerCase());
    store('sessionStorage', null);
    launcher.focus();
  }

  const start = () => {
    document.body.append(host);
    if (store('sessionStorage')) open(); // stays open across the store's pages
    else if (sessionID) connect();      // restore the conversation in the background
  };
  if (document.body) start(); else document.addEventListener('DOMContentLoaded', start);
})();
