// Reloads the resident's QR image well before its token expires, and when
// the page comes back into view, so the code shown is never stale; and
// runs the live clock beside the code, so that a screenshot (its clock
// stopped) is easy to tell from the live page.
'use strict';
(function () {
  const img = document.getElementById('qr');
  if (!img) return;
  const clock = document.getElementById('live-clock');
  if (clock) {
    const lang = document.documentElement.lang || undefined;
    const tick = () => {
      const now = new Date();
      clock.dateTime = now.toISOString();
      clock.textContent = now.toLocaleDateString(lang) + ' ' + now.toLocaleTimeString(lang, { hour12: false });
    };
    tick();
    setInterval(tick, 1000);
  }
  const every = (parseInt(img.dataset.refresh, 10) || 240) * 1000;
  const base = img.getAttribute('src');
  const note = document.getElementById('qr-status');
  let last = Date.now();
  let shown = null; // the object URL of the QR shown, once one was fetched
  let waiting = false; // a reload is under way or scheduled
  // A session that ended (or a server that is gone for good) reloads the
  // page, which asks for a login again; at most once every five minutes,
  // so a server that is down causes no loop.
  const reloadPage = () => {
    const key = 'hc.qr.reloaded';
    const lastPage = parseInt(sessionStorage.getItem(key) || '0', 10);
    if (Date.now() - lastPage > 5 * 60 * 1000) {
      sessionStorage.setItem(key, String(Date.now()));
      location.reload();
    }
  };
  // The next QR is fetched first and shown once it has come. While the
  // server cannot answer (503 or 429: the database restarting, a surge)
  // the QR shown stays, valid until it expires, the page says so, and the
  // fetch is tried again after Retry-After.
  const reload = async () => {
    if (waiting) return;
    waiting = true;
    last = Date.now();
    let r = null;
    try {
      r = await fetch(base + (base.includes('?') ? '&' : '?') + 't=' + last, { cache: 'no-store', credentials: 'same-origin' });
      if (r.ok) {
        const url = URL.createObjectURL(await r.blob());
        img.src = url;
        if (shown) URL.revokeObjectURL(shown);
        shown = url;
        if (note) note.textContent = '';
        waiting = false;
        return;
      }
    } catch (e) {
      r = null; // offline or the server gone: as a 503
    }
    if (r && (r.status === 401 || r.status === 403)) {
      waiting = false;
      reloadPage();
      return;
    }
    if (note) note.textContent = img.dataset.unavailable;
    const after = r ? parseInt(r.headers.get('Retry-After') || '', 10) : NaN;
    setTimeout(() => { waiting = false; reload(); }, (after > 0 ? Math.min(after, 60) : 5) * 1000);
  };
  img.addEventListener('error', reloadPage); // the page's first QR did not load
  setInterval(reload, every);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && Date.now() - last > every / 2) reload();
  });
})();

// The code as text (issue 17 item 7), for a checkpoint that cannot scan:
// fetched when the resident opens it, and again with each QR reload, so
// it is as fresh as the image; a copy button puts it on the clipboard.
(function () {
  const box = document.getElementById('token-box');
  if (!box) return;
  const text = document.getElementById('token-text');
  const status = document.getElementById('token-status');
  const load = async () => {
    try {
      const r = await fetch(box.dataset.tokenUrl, { cache: 'no-store', credentials: 'same-origin' });
      if (!r.ok) throw new Error('HTTP ' + r.status);
      text.value = (await r.json()).token;
      box.dataset.loaded = 'true';
    } catch (e) {
      status.textContent = box.dataset.failed;
    }
  };
  box.addEventListener('toggle', () => { if (box.open) load(); });
  document.getElementById('qr').addEventListener('load', () => { if (box.open) load(); });
  document.getElementById('token-copy').addEventListener('click', async () => {
    text.select();
    try {
      await navigator.clipboard.writeText(text.value);
    } catch (e) {
      document.execCommand('copy'); // over plain HTTP, no Clipboard API
    }
    status.textContent = box.dataset.copied;
  });
})();
