// The demo storefront: a search box and a product grid from GET /api/search.
(() => {
  'use strict';
  const form = document.getElementById('search'), q = document.getElementById('q');
  const grid = document.getElementById('grid'), summary = document.getElementById('summary');
  const heading = document.getElementById('heading');
  const fmts = {};
  const money = (p, c) => {
    if (!(p > 0)) return '';
    try { return (fmts[c] = fmts[c] || new Intl.NumberFormat(navigator.language || 'en', { style: 'currency', currency: c || 'EUR' })).format(p); } catch (e) { return p.toFixed(2) + ' ' + c; }
  };
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };
  const placeholder = it => { const d = el('div', 'ph', (it.brand || it.title || '?').charAt(0).toUpperCase()); d.setAttribute('aria-hidden', 'true'); return d; };

  function render(items) {
    grid.textContent = '';
    for (const it of items) {
      const li = el('li'), card = el('article', 'product');
      let pic = placeholder(it);
      if (/^https?:\/\//.test(it.image || '')) {
        pic = el('img', 'pic');
        pic.src = it.image; pic.alt = ''; pic.loading = 'lazy';
        pic.addEventListener('error', () => pic.replaceWith(placeholder(it)), { once: true });
      }
      card.append(pic, el('h2', null, it.title), el('span', 'brand', it.brand || ''), el('span', 'price', money(it.price, it.currency)));
      li.append(card);
      grid.append(li);
    }
  }

  async function search(query) {
    summary.textContent = 'Searching…';
    try {
      const resp = await fetch('/api/search?k=24&q=' + encodeURIComponent(query));
      if (!resp.ok) throw new Error((await resp.json().catch(() => ({}))).error || resp.statusText);
      const body = await resp.json();
      heading.textContent = 'Results for “' + body.query + '”';
      summary.textContent = body.items.length ? body.items.length + ' products' : 'Nothing found — try other words, or ask the assistant.';
      render(body.items);
    } catch (e) {
      summary.textContent = 'Search is unavailable right now (' + e.message + ').';
    }
  }

  form.addEventListener('submit', e => {
    e.preventDefault();
    const query = q.value.trim();
    if (!query) return;
    history.replaceState(null, '', '?q=' + encodeURIComponent(query));
    search(query);
  });
  const initial = new URLSearchParams(location.search).get('q') || 'wireless headphones';
  q.value = initial;
  search(initial);
})();
