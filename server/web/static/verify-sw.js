// Service worker of the checkpoint verifier: keeps /verify and its assets
// so the page opens again with the server unreachable. Network first, so
// an online device always gets the current page; the cache only answers
// when the network fails. It handles nothing but the page and /static/:
// the trust list is cached by the page itself, with its own checks.
'use strict';
const CACHE = 'hc-verify-v1';

self.addEventListener('install', (ev) => {
  ev.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const page = await fetch('/verify', { credentials: 'same-origin' });
    const html = await page.clone().text();
    await cache.put('/verify', page);
    const assets = [...html.matchAll(/(?:src|href)="(\/static\/[^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));
    await cache.addAll(assets);
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (ev) => {
  ev.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (ev) => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== 'GET' || url.origin !== location.origin) return;
  const page = url.pathname === '/verify';
  if (!page && !url.pathname.startsWith('/static/')) return;
  ev.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const resp = await fetch(ev.request);
      if (resp.ok) await cache.put(page ? '/verify' : ev.request, resp.clone());
      return resp;
    } catch (e) {
      const hit = await cache.match(page ? '/verify' : ev.request);
      if (hit) return hit;
      throw e;
    }
  })());
});
