// healthcode checkpoint verifier: verifies a token in the browser, offline,
// against trust lists cached in localStorage. It implements docs/token.md
// exactly as package token does: the binary token (Parse), trust-list
// envelopes (ParseTrustList) and the verifier rules in their order
// (Verifier.VerifyToken). Nothing here trusts a field before its signature
// has been checked with WebCrypto Ed25519.
'use strict';
(function () {
  const PREFIX = 'HCT2:';
  const VERSION = 2;
  const KEY_ID_LEN = 8;
  const NONCE_LEN = 16;
  const BINDING_LEN = 16;
  const SIG_LEN = 64;
  const MAX_NAME = 32;
  const MAX_TIME = 2n ** 40n;
  const MAX_VALIDITY = 86400n;
  const MAX_TEXT = Math.floor((1 + KEY_ID_LEN + NONCE_LEN + BINDING_LEN + 1 + MAX_NAME + 1 + 2 * 10 + SIG_LEN) * 3 / 2);
  const SKEW = 120; // seconds, token.DefaultSkew
  const TOKEN_CONTEXT = 'healthcode token v1\0';
  const TRUST_CONTEXT = 'healthcode trust list v1\0';
  const RECOGNITION_CONTEXT = 'healthcode recognition v1\0';
  const COLOURS = [null, 'green', 'yellow', 'red'];
  const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
  const enc = new TextEncoder();

  // VerifyError carries a reason (one of token's sentinel errors, named as
  // in the catalogue: malformed, bad_signature, unknown_key, revoked_key,
  // key_window, expired, not_yet_valid, trust_list_too_old) and a detail.
  class VerifyError extends Error {
    constructor(reason, detail) {
      super(reason + ': ' + detail);
      this.reason = reason;
      this.detail = detail;
    }
  }
  const fail = (reason, detail) => { throw new VerifyError(reason, detail); };

  function b45decode(s) {
    if (s.length % 3 === 1) fail('malformed', 'base45: bad length ' + s.length);
    const out = [];
    for (let i = 0; i < s.length; i += 3) {
      const end = Math.min(i + 3, s.length);
      let n = 0, w = 1;
      for (let j = i; j < end; j++) {
        const v = B45.indexOf(s[j]);
        if (v < 0) fail('malformed', 'base45: bad character ' + JSON.stringify(s[j]) + ' at ' + j);
        n += v * w;
        w *= 45;
      }
      if (end - i === 3) {
        if (n > 0xffff) fail('malformed', 'base45: group at ' + i + ' out of range');
        out.push(n >> 8, n & 0xff);
      } else {
        if (n > 0xff) fail('malformed', 'base45: group at ' + i + ' out of range');
        out.push(n);
      }
    }
    return new Uint8Array(out);
  }

  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  function unhex(s) {
    if (!/^([0-9a-f]{2})*$/i.test(s)) throw new Error('bad hex');
    const b = new Uint8Array(s.length / 2);
    for (let i = 0; i < b.length; i++) b[i] = parseInt(s.substr(2 * i, 2), 16);
    return b;
  }
  function unbase64(s) {
    // Strict standard base64, as Go's base64.StdEncoding.Strict().
    if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) throw new Error('bad base64');
    const bin = atob(s);
    const b = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    if (btoa(bin) !== s) throw new Error('non-canonical base64');
    return b;
  }
  const concat = (a, b) => { const o = new Uint8Array(a.length + b.length); o.set(a); o.set(b, a.length); return o; };

  const utf8 = new TextDecoder('utf-8', { fatal: true });
  // Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and
  // the ASCII space.
  const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]*$/u;

  // Reader walks a token body like token's reader, stopping at the first error.
  class Reader {
    constructor(b) { this.b = b; this.i = 0; }
    bytes(n, what) {
      if (this.b.length - this.i < n) fail('malformed', what + ': need ' + n + ' bytes, have ' + (this.b.length - this.i));
      const v = this.b.subarray(this.i, this.i + n);
      this.i += n;
      return v;
    }
    str(max, what) {
      const l = this.bytes(1, what + ' length')[0];
      if (l > max) fail('malformed', what + ': length ' + l + ' exceeds ' + max);
      const raw = this.bytes(l, what);
      let s;
      try { s = utf8.decode(raw); } catch (e) { fail('malformed', what + ': not printable UTF-8'); }
      if (!printable.test(s)) fail('malformed', what + ': not printable UTF-8');
      return s;
    }
    uvarint(what) {
      // encoding/binary.Uvarint, then the shortest-encoding check.
      let x = 0n, s = 0n;
      for (let k = 0; k < 10; k++) {
        if (this.i + k >= this.b.length) fail('malformed', what + ': bad varint');
        const c = this.b[this.i + k];
        if (c < 0x80) {
          if (k === 9 && c > 1) fail('malformed', what + ': bad varint');
          if (k > 0 && c === 0) fail('malformed', what + ': non-minimal varint');
          this.i += k + 1;
          return x | (BigInt(c) << s);
        }
        x |= BigInt(c & 0x7f) << s;
        s += 7n;
      }
      fail('malformed', what + ': bad varint');
    }
  }

  // parseToken is token.Parse: structure only, no signature check.
  function parseToken(text) {
    if (typeof text === 'string' && text.startsWith('HCT1:')) fail('malformed', "a version 1 token (HCT1:), no longer issued or accepted: it carried the resident's id");
    if (typeof text !== 'string' || !text.startsWith(PREFIX)) fail('malformed', 'missing prefix "' + PREFIX + '"');
    const encoded = text.slice(PREFIX.length);
    if (encoded.length > MAX_TEXT) fail('malformed', text.length + ' characters, longer than any token');
    const body = b45decode(encoded);
    const r = new Reader(body);
    const v = r.bytes(1, 'version')[0];
    if (v !== VERSION) fail('malformed', 'unsupported version ' + v + ' (want ' + VERSION + ')');
    const t = { version: v, keyId: hex(r.bytes(KEY_ID_LEN, 'key id')) };
    // The nonce and the binding are opaque here: only the issuer can
    // check the binding, and neither is shown.
    t.nonce = hex(r.bytes(NONCE_LEN, 'nonce'));
    t.binding = hex(r.bytes(BINDING_LEN, 'binding'));
    t.name = r.str(MAX_NAME, 'name');
    const c = r.bytes(1, 'colour')[0];
    if (!COLOURS[c]) fail('malformed', 'colour: unknown code ' + c);
    t.colour = COLOURS[c];
    const iat = r.uvarint('issued at');
    const validity = r.uvarint('validity');
    if (iat === 0n || iat > MAX_TIME) fail('malformed', 'issued at: ' + iat + ' out of range');
    if (validity === 0n || validity > MAX_VALIDITY) fail('malformed', 'validity: ' + validity + ' seconds out of range');
    const sigStart = r.i;
    t.signature = r.bytes(SIG_LEN, 'signature');
    if (r.i !== body.length) fail('malformed', (body.length - r.i) + ' trailing bytes');
    t.issuedAt = Number(iat);
    t.expiresAt = Number(iat + validity);
    t.body = body;
    t.msg = concat(enc.encode(TOKEN_CONTEXT), body.subarray(0, sigStart));
    return t;
  }

  async function ed25519Verify(pub, sig, msg) {
    if (!globalThis.crypto || !crypto.subtle) fail('no_webcrypto', 'WebCrypto is only available over HTTPS or on localhost');
    let key;
    try {
      key = await crypto.subtle.importKey('raw', pub, { name: 'Ed25519' }, false, ['verify']);
    } catch (e) {
      fail('no_webcrypto', 'this browser cannot verify Ed25519: ' + e.message);
    }
    return crypto.subtle.verify({ name: 'Ed25519' }, key, sig, msg);
  }

  async function keyId(pub) {
    const h = new Uint8Array(await crypto.subtle.digest('SHA-256', pub));
    return hex(h.subarray(0, KEY_ID_LEN));
  }

  const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  function seconds(s, what) {
    if (typeof s !== 'string' || !rfc3339.test(s)) throw new Error(what + ': not an RFC 3339 time');
    return Math.floor(Date.parse(s) / 1000);
  }
  function exactKeys(obj, allowed, required, what) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new Error(what + ': not an object');
    for (const k of Object.keys(obj)) if (!allowed.includes(k)) throw new Error(what + ': unknown field "' + k + '"');
    for (const k of required) if (!(k in obj)) throw new Error(what + ': missing "' + k + '"');
  }

  // openEnvelope checks a signed envelope ({payload, key_id, signature})
  // against the pinned trust-list key, under a context string, and returns
  // the payload bytes, unread until the signature holds.
  async function openEnvelope(envelope, trustKey, context, what) {
    let env, payload, sig;
    try {
      env = typeof envelope === 'string' ? JSON.parse(envelope) : envelope;
      exactKeys(env, ['payload', 'key_id', 'signature'], ['payload', 'key_id', 'signature'], what + ' envelope');
      payload = unbase64(env.payload);
      sig = unbase64(env.signature);
    } catch (e) {
      fail('malformed', e.message);
    }
    if (sig.length !== SIG_LEN) fail('malformed', what + ' signature encoding');
    if (trustKey.length !== 32) fail('bad_signature', what + ' key has bad length ' + trustKey.length);
    const want = await keyId(trustKey);
    if (env.key_id !== want) fail('bad_signature', what + ' signed by key "' + env.key_id + '", pinned key is ' + want);
    if (!await ed25519Verify(trustKey, sig, concat(enc.encode(context), payload))) fail('bad_signature', what + ' signature');
    return payload;
  }

  // parseTrustList is token.ParseTrustList: check the envelope against the
  // pinned trust-list key, and only then decode and validate the payload.
  async function parseTrustList(envelope, trustKey) {
    const payload = await openEnvelope(envelope, trustKey, TRUST_CONTEXT, 'trust list');
    const tl = { keys: [] };
    try {
      const j = JSON.parse(utf8.decode(payload));
      exactKeys(j, ['issuer', 'version', 'issued_at', 'keys'], ['issuer', 'version', 'issued_at', 'keys'], 'trust list');
      if (typeof j.issuer !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/.test(j.issuer)) throw new Error('issuer: bad name');
      if (!Number.isSafeInteger(j.version) || j.version < 1) throw new Error('version: must be at least 1');
      tl.issuer = j.issuer;
      tl.version = j.version;
      tl.issuedAt = seconds(j.issued_at, 'issued_at');
      if (!Array.isArray(j.keys)) throw new Error('keys: not a list');
      const seen = new Set();
      for (const [i, kj] of j.keys.entries()) {
        exactKeys(kj, ['id', 'public_key', 'not_before', 'not_after', 'status'], ['id', 'public_key', 'not_before', 'status'], 'key ' + i);
        const pub = unbase64(kj.public_key);
        if (pub.length !== 32) throw new Error('key ' + i + ': public_key: must be 32 bytes');
        if (kj.id !== await keyId(pub)) throw new Error('key ' + i + ': id does not derive from the public key');
        if (!['active', 'retired', 'revoked'].includes(kj.status)) throw new Error('key ' + i + ': unknown key status');
        const k = { id: kj.id, pub, status: kj.status, notBefore: seconds(kj.not_before, 'not_before'), notAfter: 0 };
        if (kj.not_after != null) {
          k.notAfter = seconds(kj.not_after, 'not_after');
          if (k.notAfter <= k.notBefore) throw new Error('key ' + i + ': not_after must be after not_before');
        }
        if (seen.has(k.id)) throw new Error('keys: key ' + k.id + ' listed twice');
        seen.add(k.id);
        tl.keys.push(k);
      }
    } catch (e) {
      if (e instanceof VerifyError) throw e;
      fail('malformed', 'trust list: ' + e.message);
    }
    return tl;
  }

  // parseRecognition is store.ParseRecognition: our recognition statement,
  // checked against the pinned trust-list key, and only then read. It
  // returns its issuer, version and the recognised issuers' trust-list
  // keys (hex by issuer): the only way this page learns another
  // province's pin.
  async function parseRecognition(envelope, trustKey) {
    const payload = await openEnvelope(envelope, trustKey, RECOGNITION_CONTEXT, 'recognition statement');
    const r = { pins: {} };
    try {
      const j = JSON.parse(utf8.decode(payload));
      exactKeys(j, ['issuer', 'version', 'issued_at', 'recognises'], ['issuer', 'version'], 'recognition statement');
      if (!Number.isSafeInteger(j.version) || j.version < 0) throw new Error('version: not a count');
      r.issuer = String(j.issuer);
      r.version = j.version;
      for (const [i, ri] of (j.recognises || []).entries()) {
        exactKeys(ri, ['issuer', 'trust_key', 'version'], ['issuer', 'trust_key'], 'recognised issuer ' + i);
        const key = unbase64(ri.trust_key);
        if (typeof ri.issuer !== 'string' || ri.issuer === '' || key.length !== 32) throw new Error('recognised issuer ' + i + ': no valid trust-list key');
        r.pins[ri.issuer] = hex(key);
      }
    } catch (e) {
      if (e instanceof VerifyError) throw e;
      fail('malformed', 'recognition statement: ' + e.message);
    }
    return r;
  }

  // verifyToken is Verifier.VerifyToken, rule by rule, with now in Unix
  // seconds and newest mapping issuers to the highest version seen.
  async function verifyToken(text, lists, now, newest) {
    const t = parseToken(text.trim());
    newest = newest || {};
    const top = (issuer) => Math.max(newest[issuer] || 0, ...lists.filter((l) => l.issuer === issuer).map((l) => l.version));
    const refs = [];
    for (const l of lists) for (const k of l.keys) if (k.id === t.keyId) refs.push({ key: k, list: l, stale: l.version < top(l.issuer) });
    if (refs.length === 0) fail('unknown_key', t.keyId);
    const fresh = refs.filter((r) => !r.stale);
    if (fresh.length === 0) fail('trust_list_too_old', 'key ' + t.keyId + ' is only in ' + refs[0].list.issuer + ' version ' + refs[0].list.version + ', newer lists have been seen');
    const ref = fresh[0];
    if (!await ed25519Verify(ref.key.pub, t.signature, t.msg)) fail('bad_signature', 'key ' + t.keyId);
    if (fresh.some((r) => r.key.status === 'revoked')) fail('revoked_key', t.keyId + ' (issuer ' + ref.list.issuer + ')');
    const k = ref.key;
    if (t.issuedAt < k.notBefore || (k.notAfter && t.issuedAt > k.notAfter)) fail('key_window', 'issued ' + iso(t.issuedAt) + ', key ' + t.keyId + ' signs from ' + iso(k.notBefore) + ' to ' + (k.notAfter ? iso(k.notAfter) : '(no end)'));
    if (now < t.issuedAt - SKEW) fail('not_yet_valid', 'issued at ' + iso(t.issuedAt) + ', now ' + iso(now));
    if (now >= t.expiresAt + SKEW) fail('expired', 'expired at ' + iso(t.expiresAt) + ', now ' + iso(now));
    return { name: t.name, colour: t.colour, issuedAt: t.issuedAt, expiresAt: t.expiresAt, keyId: t.keyId, issuer: ref.list.issuer };
  }
  const iso = (s) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

  // The trust store: the pinned trust-list key and the newest envelope of
  // each issuer, in localStorage, re-verified on every load. A list older
  // than one seen before is refused, so the cache cannot be rolled back.
  const store = {
    get(k, d) { try { const v = localStorage.getItem('hc.trust.' + k); return v == null ? d : JSON.parse(v); } catch (e) { return d; } },
    set(k, v) { localStorage.setItem('hc.trust.' + k, JSON.stringify(v)); },
  };

  // loadCached re-verifies the cached lists: ours against the pin, a
  // recognised province's against the key our cached recognition statement
  // (itself re-verified against the pin) gives for it.
  async function loadCached() {
    const pin = store.get('pin', '');
    if (!pin) return [];
    let pins = {};
    const rec = store.get('recognition', '');
    if (rec) {
      try { pins = (await parseRecognition(rec, unhex(pin))).pins; } catch (e) { /* a damaged statement: ours only */ }
    }
    const out = [];
    for (const [issuer, env] of Object.entries(store.get('lists', {}))) {
      let tl = null;
      try { tl = await parseTrustList(env, unhex(pin)); } catch (e) { /* not ours */ }
      if (!tl && pins[issuer]) {
        try { tl = await parseTrustList(env, unhex(pins[issuer])); } catch (e) { /* a damaged entry is ignored */ }
      }
      if (tl && tl.issuer === issuer) out.push(tl);
    }
    return out;
  }

  // parseKey reads the trust-list public key as GET /v1/trust/key serves
  // it: hex or base64 text, or JSON with a public_key field.
  function parseKey(text) {
    text = text.trim();
    if (text.startsWith('{')) {
      const j = JSON.parse(text);
      text = String(j.public_key || j.key || '');
    }
    if (/^[0-9a-f]{64}$/i.test(text)) return text.toLowerCase();
    const b = unbase64(text);
    if (b.length !== 32) throw new Error('trust key must be 32 bytes');
    return hex(b);
  }

  // envelopesOf accepts one envelope, a list of them, or {lists: [...]}.
  function envelopesOf(j) {
    if (Array.isArray(j)) return j;
    if (j && Array.isArray(j.lists)) return j.lists;
    if (j && Array.isArray(j.trust_lists)) return j.trust_lists;
    return [j];
  }

  // refresh fetches the pin (kept once set: trust on first use) and the
  // trust lists, verifies and caches them. It returns a status word.
  async function refresh(keyURL, trustURL, recognisedURL, listsURL) {
    let pin = store.get('pin', '');
    const kr = await fetch(keyURL, { cache: 'no-store' });
    if (!kr.ok) throw new Error('trust key: HTTP ' + kr.status);
    const served = parseKey(await kr.text());
    if (!pin) { pin = served; store.set('pin', pin); }
    const keyChanged = served !== pin;
    const tr = await fetch(trustURL, { cache: 'no-store' });
    if (!tr.ok) throw new Error('trust list: HTTP ' + tr.status);
    const lists = store.get('lists', {});
    const newest = store.get('newest', {});
    const ours = new Set();
    for (const env of envelopesOf(await tr.json())) {
      const tl = await parseTrustList(env, unhex(pin));
      ours.add(tl.issuer);
      if (tl.version < (newest[tl.issuer] || 0)) continue; // rollback refused
      lists[tl.issuer] = JSON.stringify(env);
      newest[tl.issuer] = tl.version;
    }
    // The provinces we recognise (互认): their pins from our signed
    // statement, then their lists, each checked against its own pin. An
    // older statement than one seen before is refused, and no statement
    // can re-pin our own issuer.
    try {
      const rr = recognisedURL ? await fetch(recognisedURL, { cache: 'no-store' }) : null;
      const recText = rr && rr.ok ? (await rr.text()).trim() : '';
      if (recText) {
        const rec = await parseRecognition(recText, unhex(pin));
        if (rec.version >= store.get('recognition_version', 0)) {
          store.set('recognition', recText);
          store.set('recognition_version', rec.version);
          for (const [issuer, key] of Object.entries(rec.pins)) {
            if (ours.has(issuer)) continue;
            try {
              const lr = await fetch(listsURL + encodeURIComponent(issuer), { cache: 'no-store' });
              if (!lr.ok) continue;
              const env = await lr.json();
              const tl = await parseTrustList(env, unhex(key));
              if (tl.issuer !== issuer || tl.version < (newest[issuer] || 0)) continue;
              lists[issuer] = JSON.stringify(env);
              newest[issuer] = tl.version;
            } catch (e) { /* that province's cached list stays */ }
          }
        }
      }
    } catch (e) { /* the recognised lists cached before stay */ }
    store.set('lists', lists);
    store.set('newest', newest);
    store.set('fetched', new Date().toISOString());
    return keyChanged ? 'key_changed' : 'ok';
  }

  const b64encode = (b) => btoa(String.fromCharCode(...b));

  // The log verifier (logverify.js) checks checkpoint signatures with the
  // same ed25519Verify.
  globalThis.HCVerify = { parseToken, parseTrustList, parseRecognition, verifyToken, b45decode, hex, unhex, unbase64, b64encode, concat, ed25519Verify, VerifyError };

  // The page.
  const root = document.getElementById('verifier');
  if (!root) return;
  const msgs = JSON.parse(document.getElementById('hc-messages').textContent);
  const m = (k, ...args) => (msgs['verify.' + k] || k).replace(/%[sd]/g, () => String(args.shift()));
  const $ = (id) => document.getElementById(id);
  const fmt = (s) => new Date(s * 1000).toLocaleString(document.documentElement.lang);
  let lists = [];

  function showTrust(status) {
    const fetched = store.get('fetched', '');
    const names = lists.map((l) => l.issuer + ' v' + l.version).join(', ');
    let s = lists.length ? m('trust.have', names, fetched ? new Date(fetched).toLocaleString(document.documentElement.lang) : '?') : m('trust.none');
    if (status === 'offline') s += ' ' + m('trust.offline');
    if (status === 'key_changed') s += ' ' + m('trust.keychanged');
    $('trust-status').textContent = s;
    $('trust-status').dataset.lists = String(lists.length);
  }

  async function load() {
    lists = await loadCached();
    showTrust('');
    let status = 'ok';
    try {
      status = await refresh(root.dataset.keyUrl, root.dataset.trustUrl, root.dataset.recognisedUrl, root.dataset.listsUrl);
      lists = await loadCached();
    } catch (e) {
      status = 'offline';
    }
    showTrust(status);
    root.dataset.ready = 'true';
  }

  function show(ok, title, rows, colour) {
    const out = $('result');
    out.hidden = false;
    out.className = 'result ' + (ok ? 'code code-' + colour : 'refused');
    out.dataset.outcome = ok ? 'valid' : 'refused';
    out.replaceChildren();
    const h = document.createElement('h2');
    h.textContent = title;
    h.id = 'result-title';
    out.append(h);
    const dl = document.createElement('dl');
    dl.className = 'facts';
    for (const [k, v] of rows) {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      dl.append(dt, dd);
    }
    out.append(dl);
    out.focus();
  }

  async function verify() {
    const text = $('token').value.trim();
    if (!text) return;
    try {
      const c = await verifyToken(text, lists, Math.floor(Date.now() / 1000), store.get('newest', {}));
      show(true, m('colour.' + c.colour), [
        [m('name'), c.name || '—'],
        [m('expires'), fmt(c.expiresAt)],
        [m('issued'), fmt(c.issuedAt)],
        [m('issuer'), c.issuer + ' · ' + c.keyId],
      ], c.colour);
    } catch (e) {
      const reason = e instanceof VerifyError ? e.reason : 'malformed';
      show(false, m('refused'), [[m('reason'), m('reason.' + reason)], [m('detail'), e instanceof VerifyError ? e.detail : e.message]]);
      $('result').dataset.reason = reason;
    }
  }

  // Reading QR codes: the browser's BarcodeDetector where it has one,
  // else jsQR (static/jsqr.js, vendored from npm with its licence), on
  // camera frames and on an uploaded photo alike.
  const native = 'BarcodeDetector' in globalThis;
  const detector = native ? new BarcodeDetector({ formats: ['qr_code'] }) : null;
  const canvas = document.createElement('canvas');
  const MAX_SIDE = 1280; // a photo is scaled down to this for decoding
  // decode returns the token text found in an image source (a video, an
  // image bitmap), or ''.
  async function decode(src, width, height) {
    if (detector) {
      for (const code of await detector.detect(src)) if (code.rawValue.startsWith(PREFIX)) return code.rawValue;
      return '';
    }
    if (typeof globalThis.jsQR !== 'function') return '';
    const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(src, 0, 0, canvas.width, canvas.height);
    const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const code = globalThis.jsQR(img.data, img.width, img.height, { inversionAttempts: 'attemptBoth' });
    return code && code.data.startsWith(PREFIX) ? code.data : '';
  }
  function found(text) {
    $('token').value = text;
    $('scan-status').textContent = '';
    verify();
  }

  let stream = null;
  async function scan() {
    const video = $('camera');
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    } catch (e) {
      $('scan-status').textContent = m('scan.denied');
      return;
    }
    video.hidden = false;
    video.srcObject = stream;
    await video.play();
    $('scan-status').textContent = m('scan.looking');
    const tick = async () => {
      if (!stream) return;
      try {
        const text = video.videoWidth ? await decode(video, video.videoWidth, video.videoHeight) : '';
        if (text) {
          stopScan();
          found(text);
          return;
        }
      } catch (e) { /* a frame that cannot be read: try the next */ }
      setTimeout(tick, 200);
    };
    tick();
  }
  function stopScan() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $('camera').hidden = true;
  }
  async function photo(file) {
    $('scan-status').textContent = m('scan.reading');
    let text = '';
    try {
      const bmp = await createImageBitmap(file);
      text = await decode(bmp, bmp.width, bmp.height);
      bmp.close();
    } catch (e) { /* not an image */ }
    if (text) found(text);
    else $('scan-status').textContent = m('scan.nocode');
    $('scan-status').dataset.done = text ? 'found' : 'none';
  }

  $('verify-form').addEventListener('submit', (ev) => { ev.preventDefault(); verify(); });
  const canDecode = native || typeof globalThis.jsQR === 'function';
  if (canDecode && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    $('scan').hidden = false;
    $('scan').addEventListener('click', scan);
  }
  if (canDecode) {
    $('photo-row').hidden = false;
    $('photo').addEventListener('change', (ev) => { const f = ev.target.files[0]; if (f) photo(f); });
  } else {
    $('scan-status').textContent = m('scan.unsupported');
  }
  root.dataset.decoder = native ? 'native' : (canDecode ? 'jsqr' : 'none');
  // The service worker keeps this page for offline use; where the browser
  // has none (or not over plain HTTP), the page still works once loaded.
  if ('serviceWorker' in navigator && window.isSecureContext) {
    navigator.serviceWorker.register('/verify-sw.js', { scope: '/verify' }).catch(() => {});
  }
  load();
})();
