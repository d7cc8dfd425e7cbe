// healthcode log verifier: the explorer's inclusion and consistency pages
// check, in the browser, what the server being audited hands them. The
// checkpoint is a C2SP signed note, checked with WebCrypto Ed25519 (the
// same ed25519Verify as the offline token verifier, verify.js) against the
// log key pinned in this browser on first use; the proofs are RFC 9162
// §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) over RFC 6962 hashing,
// checked against the signed root. With a witness policy pinned (the
// server's, adopted on first use, or one entered by hand) the checkpoint
// must also carry a quorum of the witnesses' cosignatures (C2SP
// tlog-cosignature, Ed25519): a server that shows this browser a forked
// view cannot get witnesses who saw the honest one to cosign it. Nothing
// the server says is "verified" is believed: the server only supplies the
// bytes.
'use strict';
(function () {
  const V = globalThis.HCVerify;
  const enc = new TextEncoder();

  // Failures are verify.js's VerifyError: a reason (logverify.reason.*)
  // and a detail.
  const LogError = V.VerifyError;
  const fail = (reason, detail) => { throw new LogError(reason, detail); };

  const sha256 = async (b) => new Uint8Array(await crypto.subtle.digest('SHA-256', b));
  const leafHash = (leaf) => sha256(V.concat(new Uint8Array([0]), leaf));
  const nodeHash = (l, r) => sha256(V.concat(V.concat(new Uint8Array([1]), l), r));
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  function b64(s, what) {
    try { return V.unbase64(s); } catch (e) { fail('malformed', what + ': ' + e.message); }
  }
  function hash32(s, what) {
    const h = b64(s, what);
    if (h.length !== 32) fail('malformed', what + ': not a 32-byte hash');
    return h;
  }
  const decimal = /^(0|[1-9][0-9]*)$/;

  // parseKey reads a note verifier key, name+hash+base64(0x01 || Ed25519
  // public key), and checks that hash is its key hash: the first four bytes
  // of SHA-256(name || "\n" || 0x01 || key).
  async function parseKey(vkey) {
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(String(vkey)); // the base64 may hold '+'
    if (!m) fail('malformed', 'log key: not name+hash+key');
    const parts = m.slice(1);
    const data = b64(parts[2], 'log key');
    if (data.length !== 33 || data[0] !== 1) fail('malformed', 'log key: not an Ed25519 key');
    const h = await sha256(V.concat(enc.encode(parts[0] + '\n'), data));
    if (V.hex(h.subarray(0, 4)) !== parts[1]) fail('malformed', 'log key: hash does not match the key');
    return { name: parts[0], hash: h.subarray(0, 4), pub: data.subarray(1) };
  }

  // openCheckpoint is tlog.OpenCheckpoint: the note's signature by key
  // first (other signatures, such as witnesses', are skipped), then the
  // body, strictly: origin, size, root, nothing else.
  async function openCheckpoint(signed, key, origin) {
    const split = signed.lastIndexOf('\n\n');
    if (split < 0 || !signed.endsWith('\n')) fail('malformed', 'checkpoint: not a signed note');
    const text = signed.slice(0, split + 1);
    let good = false, ours = false;
    for (const line of signed.slice(split + 2, -1).split('\n')) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) fail('malformed', 'checkpoint: bad signature line');
      if (m[1] !== key.name) continue;
      const sig = b64(m[2], 'checkpoint signature');
      if (sig.length !== 68 || !equal(sig.subarray(0, 4), key.hash)) continue;
      ours = true;
      if (await V.ed25519Verify(key.pub, sig.subarray(4), enc.encode(text))) good = true;
    }
    if (!ours) fail('bad_signature', 'the checkpoint carries no signature by the pinned key ' + key.name);
    if (!good) fail('bad_signature', 'the checkpoint\'s signature by ' + key.name + ' does not verify');
    const lines = text.slice(0, -1).split('\n');
    if (lines.length !== 3) fail('malformed', 'checkpoint: ' + lines.length + ' body lines, want 3');
    if (lines[0] !== origin || origin !== key.name) fail('bad_signature', 'checkpoint origin ' + JSON.stringify(lines[0]) + ', want ' + JSON.stringify(origin));
    if (!decimal.test(lines[1])) fail('malformed', 'checkpoint: bad size');
    return { origin: lines[0], size: BigInt(lines[1]), root: hash32(lines[2], 'checkpoint root') };
  }

  // parseCosigner reads a witness's verifier key (C2SP tlog-cosignature):
  // name+hash+base64(0x04 || Ed25519 key), or 0x06 and an ML-DSA-44 key,
  // which this browser cannot check; hash is the key ID, the first four
  // bytes of SHA-256(name || "\n" || type || key).
  async function parseCosigner(vkey) {
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(String(vkey));
    if (!m) fail('malformed', 'witness key: not name+hash+key');
    const data = b64(m[3], 'witness key ' + m[1]);
    if (!((data[0] === 4 && data.length === 33) || (data[0] === 6 && data.length === 1313))) fail('malformed', 'witness key ' + m[1] + ': not a cosignature/v1 key');
    const h = await sha256(V.concat(enc.encode(m[1] + '\n'), data));
    if (V.hex(h.subarray(0, 4)) !== m[2]) fail('malformed', 'witness key ' + m[1] + ': hash does not match the key');
    return { name: m[1], hash: h.subarray(0, 4), type: data[0], pub: data.subarray(1) };
  }

  // cosigned returns the names of the witnesses among keys whose
  // cosignature/v1 on the signed note verifies: over "cosignature/v1",
  // "time T" and the note's body, with T the signature's big-endian
  // timestamp (key ID || timestamp || Ed25519 signature); and those whose
  // cosignature is of a type this browser cannot check.
  async function cosigned(signed, keys) {
    const split = signed.lastIndexOf('\n\n');
    const body = enc.encode(signed.slice(0, split + 1));
    const good = new Set(), unchecked = new Set();
    for (const line of signed.slice(split + 2, -1).split('\n')) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      const k = m && keys.find((k) => k.name === m[1]);
      if (!k) continue;
      const sig = b64(m[2], 'cosignature by ' + k.name);
      if (sig.length < 12 || !equal(sig.subarray(0, 4), k.hash)) continue;
      if (k.type !== 4) { unchecked.add(k.name); continue; }
      if (sig.length !== 76) continue;
      let ts = 0n;
      for (const b of sig.subarray(4, 12)) ts = (ts << 8n) | BigInt(b);
      if (ts >= 1n << 63n) continue;
      const msg = V.concat(enc.encode('cosignature/v1\ntime ' + ts + '\n'), body);
      if (await V.ed25519Verify(k.pub, sig.subarray(12), msg)) good.add(k.name);
    }
    return { good: [...good], unchecked: [...unchecked].filter((n) => !good.has(n)) };
  }

  // requireWitnesses checks the checkpoint against the browser's pinned
  // witness policy: at least quorum of its witnesses cosigned it.
  async function requireWitnesses(signed, pin) {
    const pol = pin.policy || { witnesses: [], quorum: 0 };
    if (pol.witnesses.length === 0) return { good: [], policy: pol };
    const keys = [];
    for (const w of pol.witnesses) keys.push(await parseCosigner(w));
    const r = await cosigned(signed, keys);
    if (r.good.length < pol.quorum) {
      if (r.good.length + r.unchecked.length >= pol.quorum) fail('unsupported_witness', r.unchecked.join(', '));
      fail('no_quorum', 'cosigned by ' + r.good.length + ' of the ' + keys.length + ' pinned witnesses (' + (r.good.join(', ') || 'none') + '), ' + pol.quorum + ' needed');
    }
    return { good: r.good, policy: pol };
  }

  // shift shifts fn and sn right together while cond holds.
  function shift(s, cond) {
    while (cond()) { s.fn >>= 1n; s.sn >>= 1n; }
  }

  // verifyInclusion is RFC 9162 §2.1.3.2: the proof leads from the leaf
  // hash at index to root, in the tree of size.
  async function verifyInclusion(index, size, leaf, proof, root) {
    index = BigInt(index); size = BigInt(size);
    if (index < 0n || index >= size) return false;
    const s = { fn: index, sn: size - 1n };
    let r = leaf;
    for (const p of proof) {
      if (s.sn === 0n) return false;
      if ((s.fn & 1n) === 1n || s.fn === s.sn) {
        r = await nodeHash(p, r);
        shift(s, () => (s.fn & 1n) === 0n && s.fn !== 0n);
      } else {
        r = await nodeHash(r, p);
      }
      s.fn >>= 1n; s.sn >>= 1n;
    }
    return s.sn === 0n && equal(r, root);
  }

  // verifyConsistency is RFC 9162 §2.1.4.2: the tree of size first with
  // root firstRoot is a prefix of the tree of size second with secondRoot.
  // Equal sizes need an empty proof and equal roots.
  async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
    first = BigInt(first); second = BigInt(second);
    if (first < 1n || first > second) return false;
    if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
    if (proof.length === 0) return false;
    const path = (first & (first - 1n)) === 0n ? [firstRoot, ...proof] : proof.slice();
    const s = { fn: first - 1n, sn: second - 1n };
    shift(s, () => (s.fn & 1n) === 1n);
    let fr = path[0], sr = path[0];
    for (const c of path.slice(1)) {
      if (s.sn === 0n) return false;
      if ((s.fn & 1n) === 1n || s.fn === s.sn) {
        fr = await nodeHash(c, fr);
        sr = await nodeHash(c, sr);
        shift(s, () => (s.fn & 1n) === 0n && s.fn !== 0n);
      } else {
        sr = await nodeHash(sr, c);
      }
      s.fn >>= 1n; s.sn >>= 1n;
    }
    return s.sn === 0n && equal(fr, firstRoot) && equal(sr, secondRoot);
  }

  // The browser's own memory of the log: the key pinned on first use and
  // the roots of the checkpoints it verified, by size (the latest 64).
  const mem = {
    get(k, d) { try { const v = localStorage.getItem('hc.log.' + k); return v == null ? d : JSON.parse(v); } catch (e) { return d; } },
    set(k, v) { localStorage.setItem('hc.log.' + k, JSON.stringify(v)); },
  };
  // pinned returns the pin: the log key, pinning the page's if there is
  // none yet (and failing if the page serves another), and the witness
  // policy, adopting the page's while the pin has no witnesses (that only
  // adds to what is required). A page that later serves another policy
  // does not change the pin: the pinned policy is what is required, and
  // the difference is shown (served.other).
  function pinned(d) {
    const now = new Date().toISOString();
    let pin = mem.get('pin', null);
    if (!pin) { pin = { key: d.key, at: now }; mem.set('pin', pin); }
    if (pin.key !== d.key) fail('key_changed', 'this page gives the log key ' + d.key + ', but this browser pinned ' + pin.key + ' on ' + pin.at);
    const served = { witnesses: (d.witnesses || []).slice().sort(), quorum: d.quorum || 0 };
    if ((!pin.policy || pin.policy.witnesses.length === 0) && served.witnesses.length > 0) {
      pin.policy = served; pin.policyAt = now; mem.set('pin', pin);
    }
    pin.other = pin.policy && JSON.stringify(pin.policy) !== JSON.stringify(served) ? served : null;
    return pin;
  }

  // openPinned opens the page's checkpoint under the pin: the log's
  // signature, then the pinned witnesses' cosignatures.
  async function openPinned(d) {
    const pin = pinned(d);
    const cp = await openCheckpoint(d.checkpoint, await parseKey(pin.key), d.origin);
    const wit = await requireWitnesses(d.checkpoint, pin);
    checkSeen(cp);
    return { cp, pin, wit };
  }
  function remember(cp) {
    const seen = mem.get('seen', {});
    const k = String(cp.size);
    if (seen[k] && seen[k] !== V.b64encode(cp.root)) return; // keep the first: a second is fork evidence, shown by checkSeen
    seen[k] = V.b64encode(cp.root);
    const sizes = Object.keys(seen).map(BigInt).sort((a, b) => (a < b ? 1 : -1));
    for (const old of sizes.slice(64)) delete seen[String(old)];
    mem.set('seen', seen);
  }
  function seenRoot(size) {
    const r = mem.get('seen', {})[String(size)];
    return r ? hash32(r, 'remembered root') : null;
  }
  // checkSeen fails if this browser verified a different signed root for
  // the checkpoint's size: two signed checkpoints that cannot both hold.
  function checkSeen(cp) {
    const r = seenRoot(cp.size);
    if (r && !equal(r, cp.root)) fail('fork', 'this browser verified a checkpoint of size ' + cp.size + ' with root ' + V.b64encode(r) + ', the server now signs root ' + V.b64encode(cp.root));
  }

  // checkEntry verifies an inclusion page's data: the checkpoint under the
  // pinned key, the leaf's own index line, and its inclusion proof.
  async function checkEntry(d) {
    const { cp, pin, wit } = await openPinned(d);
    const leaf = enc.encode(d.leaf);
    // v1 leaves (before migration 0013) and v2 leaves (docs/log.md).
    if (!d.leaf.startsWith('healthcode/log/v1\nindex ' + d.index + '\n') && !d.leaf.startsWith('healthcode/log/v2\nindex ' + d.index + '\n')) fail('bad_leaf', 'the entry\'s bytes are not entry ' + d.index);
    const proof = d.proof.map((h, i) => hash32(h, 'proof hash ' + i));
    if (!await verifyInclusion(d.index, cp.size, await leafHash(leaf), proof, cp.root)) fail('bad_proof', 'the inclusion proof does not lead from the entry to the signed root');
    remember(cp);
    return { size: cp.size, pin, wit };
  }

  // checkConsistency verifies a consistency page's data: the checkpoint
  // under the pinned key; the new root is the signed one, or one proved a
  // prefix of it; the old root one this browser verified before, or else
  // the server's, which the page says.
  async function checkConsistency(d) {
    const { cp, pin, wit } = await openPinned(d);
    const newSize = BigInt(d.new), oldSize = BigInt(d.old);
    let newRoot = cp.root;
    if (newSize > cp.size) fail('unsigned_root', 'size ' + newSize + ' is beyond the signed checkpoint of size ' + cp.size);
    if (newSize < cp.size) {
      // The server's root of size new, proved a prefix of the signed tree.
      newRoot = hash32(d.new_root || '', 'new root');
      const up = (d.new_proof || []).map((h, i) => hash32(h, 'new proof hash ' + i));
      if (!await verifyConsistency(newSize, cp.size, newRoot, cp.root, up)) fail('bad_proof', 'the root of size ' + newSize + ' is not proved from the signed one');
    }
    const served = hash32(d.old_root, 'old root');
    let oldRoot = seenRoot(oldSize);
    const oldFrom = oldRoot ? 'seen' : 'server';
    if (oldRoot && !equal(oldRoot, served)) fail('bad_root', 'the page gives root ' + V.b64encode(served) + ' for size ' + oldSize + ', but this browser verified a signed checkpoint of that size with root ' + V.b64encode(oldRoot));
    if (!oldRoot) oldRoot = served;
    const proof = d.proof.map((h, i) => hash32(h, 'proof hash ' + i));
    if (!await verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof)) fail('bad_proof', 'the consistency proof does not lead from the old root to the signed one');
    remember(cp);
    return { size: cp.size, oldFrom, pin, wit };
  }

  // checkListed verifies the explorer list's checkpoint, and remembers it.
  async function checkListed(d) {
    const { cp, pin, wit } = await openPinned(d);
    remember(cp);
    return { size: cp.size, pin, wit };
  }

  // parsePolicy reads a witness policy as `healthcode log monitor
  // --witnesses` does (tlog.ParsePolicy): "witness NAME VKEY [URL]" lines
  // and one "quorum K|all"; '#' starts a comment.
  async function parsePolicy(text) {
    const ws = [];
    let quorum = -1;
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const f = lines[i].split('#')[0].trim().split(/\s+/).filter(Boolean);
      if (f.length === 0) continue;
      if (f[0] === 'witness' && (f.length === 3 || f.length === 4)) {
        const k = await parseCosigner(f[2]);
        if (k.name !== f[1]) fail('malformed', 'line ' + (i + 1) + ': witness ' + f[1] + ': the key is named ' + k.name);
        ws.push(f[2]);
      } else if (f[0] === 'quorum' && f.length === 2 && quorum < 0) {
        quorum = f[1] === 'all' ? 0 : Number(f[1]);
        if (!Number.isInteger(quorum) || quorum < 0 || f[1] === '0') fail('malformed', 'line ' + (i + 1) + ': quorum ' + f[1] + ': want a positive number or "all"');
      } else {
        fail('malformed', 'line ' + (i + 1) + ': want "witness NAME VKEY [URL]" or one "quorum K|all"');
      }
    }
    if (ws.length === 0) return null;
    if (quorum < 0) fail('malformed', 'the policy has no quorum line');
    if (quorum === 0) quorum = ws.length;
    if (quorum > ws.length) fail('malformed', 'quorum ' + quorum + ' of ' + ws.length + ' witnesses');
    return { witnesses: ws.sort(), quorum };
  }

  globalThis.HCLog = { parseKey, parseCosigner, cosigned, openCheckpoint, verifyInclusion, verifyConsistency, leafHash, LogError };

  // The page. On the list, a log key obtained out of band (the one the
  // province publishes) may be pinned by hand, replacing the pin.
  const pinForm = document.getElementById('pin-form');
  if (pinForm) {
    pinForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const key = document.getElementById('pin-key').value.trim();
      const wel = document.getElementById('pin-witnesses');
      let policy = null;
      try {
        await parseKey(key);
        if (wel) policy = await parsePolicy(wel.value);
      } catch (e) {
        document.getElementById('pin-status').textContent = e.detail || e.message;
        return;
      }
      const at = new Date().toISOString();
      mem.set('pin', policy ? { key, at, policy, policyAt: at } : { key, at });
      location.reload();
    });
  }
  const data = document.getElementById('hc-log-proof');
  const out = document.getElementById('proof-result');
  if (!data || !out) return;
  const msgs = JSON.parse(document.getElementById('hc-messages').textContent);
  const m = (k, ...args) => (msgs['logverify.' + k] || k).replace(/%[sd]/g, () => String(args.shift()));
  const d = JSON.parse(data.textContent);
  const show = (ok, text, reason) => {
    out.className = ok ? 'ok' : 'error';
    out.textContent = text;
    out.dataset.outcome = ok ? 'verified' : 'failed';
    if (reason) out.dataset.reason = reason;
  };
  // witnessNote says what the checkpoint's witnesses vouch for.
  const witnessNote = (w, pin) => {
    let t = w.policy.witnesses.length === 0 ? m('unwitnessed') : m('witnessed', w.good.length, w.policy.quorum, w.good.join(', '));
    if (pin.other) t += ' ' + m('policy.other', pin.other.witnesses.length ? pin.other.quorum + '/' + pin.other.witnesses.length : '-');
    return t;
  };
  (async () => {
    try {
      if (!globalThis.crypto || !crypto.subtle) fail('no_webcrypto', 'WebCrypto is only available over HTTPS or on localhost');
      const note = document.getElementById('proof-note');
      if (d.kind === 'checkpoint') {
        const r = await checkListed(d);
        show(true, m('checkpoint.ok', r.size));
        if (note) note.textContent = m('pinned', r.pin.at, r.pin.key) + ' ' + witnessNote(r.wit, r.pin);
      } else if (d.kind === 'inclusion') {
        const r = await checkEntry(d);
        show(true, m('inclusion.ok', r.size));
        if (note) note.textContent = m('pinned', r.pin.at, r.pin.key) + ' ' + witnessNote(r.wit, r.pin);
      } else {
        const r = await checkConsistency(d);
        show(true, m('consistency.ok', d.old, d.new));
        if (note) note.textContent = m('oldroot.' + r.oldFrom) + ' ' + m('pinned', r.pin.at, r.pin.key) + ' ' + witnessNote(r.wit, r.pin);
      }
    } catch (e) {
      const reason = e instanceof LogError ? e.reason : 'malformed';
      show(false, m('fail', m('reason.' + reason)) + ' ' + (e.detail || e.message), reason);
    }
  })();
})();
