// sealq console: draws the admin API's views (every one is a documented
// endpoint under /_sealq/, so anything shown here can be scripted too).
// No framework, no build step: DOM built with textContent only, so nothing
// a queue, policy or principal holds is ever read as HTML.
'use strict';

const API = '/_sealq';
const REFRESH_MS = 2000;
/** KMS's published price of symmetric requests, USD per 10,000. */
const DEFAULT_PRICE = 0.03;

// ---------------------------------------------------------------- helpers

/** Element `tag` with attributes (`text` sets textContent, `on*` listeners). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

async function getJSON(path) {
  const r = await fetch(API + path, { cache: 'no-store' });
  if (!r.ok) {
    let msg = `HTTP ${r.status}`;
    try { msg = (await r.json()).message || msg; } catch (_) { /* not JSON */ }
    const e = new Error(`${path}: ${msg}`);
    e.status = r.status;
    throw e;
  }
  const v = await r.json();
  if (v && typeof v.now_ms === 'number') setServerNow(v.now_ms);
  return v;
}

async function postJSON(path, body) {
  const r = await fetch(API + path, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const v = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(v.message || `HTTP ${r.status}`);
  return v;
}

// The server's clock is virtual (it can be advanced), so countdowns run
// from the server's now, carried forward by the local monotonic clock.
const clockBase = { server: 0, local: 0 };
function setServerNow(ms) { clockBase.server = ms; clockBase.local = performance.now(); }
function serverNow() { return clockBase.server + (performance.now() - clockBase.local); }

function iso(ms) { return ms ? new Date(ms).toISOString().replace('.000Z', 'Z') : ''; }
function hms(ms) { return ms ? new Date(ms).toISOString().slice(11, 19) : ''; }
/** A time cell: HH:MM:SS.mmm (UTC), the full date on hover. */
function timeCell(ms) {
  const cell = td(ms ? new Date(ms).toISOString().slice(11, 23) : '', 'nowrap');
  if (ms) cell.title = iso(ms);
  return cell;
}
function duration(ms) {
  if (ms <= 0) return 'expired';
  let t = Math.ceil(ms / 1000);
  const d = Math.floor(t / 86400); t %= 86400;
  const hh = Math.floor(t / 3600); t %= 3600;
  const mm = Math.floor(t / 60); const ss = t % 60;
  if (d) return `${d}d ${hh}h ${mm}m`;
  if (hh) return `${hh}h ${mm}m ${ss}s`;
  return mm ? `${mm}m ${String(ss).padStart(2, '0')}s` : `${ss}s`;
}
/** Last part of an ARN path: a user, role session or queue name. */
function short(arn) {
  if (!arn) return '';
  const parts = String(arn).split(/[:/]/);
  return parts[parts.length - 1];
}
function principalLabel(arn) {
  const m = /^arn:aws:(?:iam|sts)::(\d+):(.+)$/.exec(arn || '');
  return m ? m[2] : arn;
}
function queueName(arn) { return short(arn); }
function accountOf(arn) { return String(arn || '').split(':')[4] || ''; }
function regionOf(arn) { return String(arn || '').split(':')[3] || ''; }
/** `#/queue/ACCOUNT/NAME/REGION`: queues are regional. */
function queueHref(account, name, region) { return `#/queue/${account}/${name}/${region}`; }
function queueLink(arn) {
  return h('a', { href: queueHref(accountOf(arn), queueName(arn), regionOf(arn)), text: queueName(arn) });
}
/** The envelope view's query: the queue's account and region. */
function where(st) {
  return `account=${encodeURIComponent(st.account)}${st.region ? `&region=${encodeURIComponent(st.region)}` : ''}`;
}
function sseBadge(sse) {
  if (sse === 'SSE-KMS') return h('span', { class: 'badge sse-kms', text: 'SSE-KMS' });
  if (sse === 'SSE-SQS') return h('span', { class: 'badge sse-sqs', text: 'SSE-SQS' });
  return h('span', { class: 'badge sse-none', text: 'not encrypted' });
}
function sevBadge(sev) { return h('span', { class: `badge sev-${sev}`, text: sev }); }
function b64Bytes(b64) { return b64 ? Math.floor(b64.length * 3 / 4) - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0) : 0; }
function b64ToHex(b64) {
  try { return Array.from(atob(b64), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join(''); } catch (_) { return ''; }
}
function clip(text, n) { return text.length > n ? `${text.slice(0, n)}…` : text; }

function table(headers, rows, opts = {}) {
  const head = h('tr', null, headers.map((x) => h('th', { scope: 'col', class: x.num ? 'num' : null, text: x.label || x })));
  const body = h('tbody', null, rows);
  if (!rows.length && opts.empty) body.append(h('tr', null, h('td', { colspan: headers.length, class: 'muted', text: opts.empty })));
  return h('table', { 'aria-label': opts.label || null, id: opts.id || null }, h('thead', null, head), body);
}
function td(content, cls) {
  const cell = h('td', { class: cls || null });
  if (content instanceof Node) cell.append(content); else cell.textContent = content === null || content === undefined ? '' : String(content);
  return cell;
}
function num(n) { return td(n === null || n === undefined ? '' : String(n), 'num'); }

function setStatus(text, isError) {
  const el = document.getElementById('status');
  el.textContent = text;
  el.className = isError ? 'error' : '';
}

/** Replaces the children of `el` (keeps `el` and its focus context). */
function fill(el, ...children) { el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined)); }

// What each part of a view was last drawn from: a part whose data has not
// changed is not drawn again (no DOM work, no layout) on the next refresh.
const drawnFrom = new WeakMap();
/** Runs `draw` unless `el` was last drawn from the same `data`. */
function redraw(el, data, draw) {
  const sig = JSON.stringify(data);
  if (drawnFrom.get(el) === sig) return;
  drawnFrom.set(el, sig);
  draw();
}

// Findings of the audit, shared by the queue and audit views; refreshed at
// most once per refresh period.
let auditCache = { at: 0, value: null };
async function findings() {
  if (performance.now() - auditCache.at < REFRESH_MS - 100 && auditCache.value) return auditCache.value;
  try {
    auditCache = { at: performance.now(), value: await getJSON('/audit') };
  } catch (e) {
    auditCache = { at: performance.now(), value: { findings: [], summary: {}, unavailable: e.message } };
  }
  return auditCache.value;
}
function findingsFor(audit, arn) { return (audit.findings || []).filter((f) => f.resource === arn); }

// ------------------------------------------------------------------ views

const views = {};

views.queues = {
  title: 'Queues',
  mount(main) {
    const body = h('div', { id: 'queues-body' });
    main.append(
      h('h1', { text: 'Queues' }),
      h('p', { class: 'lead', text: 'Every queue of every account: how it is encrypted, its messages, its dead-letter links and what the audit finds.' }),
      body,
    );
    return { body };
  },
  async refresh(st) {
    const [data, audit] = await Promise.all([getJSON('/queues'), findings()]);
    redraw(st.body, [data.queues, audit.findings, audit.unavailable], () => this.draw(st, data, audit));
  },
  draw(st, data, audit) {
    const rows = data.queues.map((q) => {
      const f = findingsFor(audit, q.arn);
      const enc = h('span', null, sseBadge(q.sse));
      if (q.sse === 'SSE-KMS') enc.append(' ', h('code', { text: q.kms_master_key_id || '', title: q.key_arn || 'the key does not exist' }));
      return h('tr', { 'data-queue': q.name, 'data-account': q.account, 'data-region': q.region },
        td(q.account, 'mono'),
        td(q.region, 'mono'),
        td(h('a', { href: queueHref(q.account, q.name, q.region), text: q.name }), 'qname'),
        td(q.fifo ? 'FIFO' : 'standard'),
        td(enc, 'enc'),
        td(q.reuse_period_seconds ? duration(q.reuse_period_seconds * 1000) : ''),
        num(q.visible), num(q.in_flight), num(q.delayed),
        td(q.dead_letter_queue ? h('span', null, queueLink(q.dead_letter_queue), q.max_receive_count ? ` after ${q.max_receive_count}` : '') : ''),
        td(h('span', null, q.dead_letter_source_queues.flatMap((a, i) => (i ? [', ', queueLink(a)] : [queueLink(a)])))),
        td(f.length ? h('a', { href: `#/audit/${encodeURIComponent(q.arn)}` }, f.map((x) => sevBadge(x.severity)).flatMap((b, i) => (i ? [' ', b] : [b]))) : h('span', { class: 'muted', text: audit.unavailable ? 'n/a' : 'none' }), 'findings'),
      );
    });
    fill(st.body, table(
      ['Account', 'Region', 'Queue', 'Type', 'Encryption', 'Data-key reuse', { label: 'Visible', num: 1 }, { label: 'In flight', num: 1 }, { label: 'Delayed', num: 1 }, 'Dead-letter queue', 'Dead-letter queue of', 'Findings'],
      rows, { empty: 'No queues yet: create one with the SDK or the CLI.', id: 'queues-table', label: 'Queues' },
    ));
  },
};

views.queue = {
  title: 'Queue',
  mount(main, [account, name, region]) {
    const head = h('div');
    const msgs = h('div', { id: 'messages' });
    main.append(h('h1', null, 'Queue ', h('code', { text: name })), head, h('h2', { text: 'Messages as stored' }),
      h('p', { class: 'lead', text: 'What the server keeps at rest. On an encrypted queue each body is an envelope: AES-256-GCM ciphertext and tag under a data key that KMS encrypted; the plaintext is never stored or shown.' }),
      msgs);
    return { account, name, region, head, msgs };
  },
  async refresh(st) {
    const [list, view, audit] = await Promise.all([
      getJSON('/queues'),
      getJSON(`/queues/${encodeURIComponent(st.name)}/messages?limit=50&${where(st)}`),
      findings(),
    ]);
    const q = list.queues.find((x) => x.account === st.account && x.name === st.name && (!st.region || x.region === st.region));
    if (!q) throw new Error(`no queue ${st.name} in account ${st.account}`);
    const f = findingsFor(audit, q.arn);
    redraw(st.head, [q, f], () => this.drawHead(st, q, f));
    redraw(st.msgs, view.messages, () => this.drawMessages(st, view));
  },
  drawHead(st, q, f) {
    fill(st.head, h('dl', { class: 'kv' },
      h('dt', { text: 'ARN' }), h('dd', null, h('code', { text: q.arn })),
      h('dt', { text: 'URL' }), h('dd', null, h('code', { text: q.url })),
      h('dt', { text: 'Encryption' }), h('dd', null, sseBadge(q.sse), q.key_arn ? [' key ', h('code', { text: q.key_arn })] : (q.kms_master_key_id ? [' ', h('code', { text: q.kms_master_key_id }), ' (no such key)'] : '')),
      h('dt', { text: 'Data-key reuse period' }), h('dd', { text: q.reuse_period_seconds ? `${q.reuse_period_seconds} s` : '—' }),
      h('dt', { text: 'Counts' }), h('dd', { text: `${q.visible} visible, ${q.in_flight} in flight, ${q.delayed} delayed` }),
      h('dt', { text: 'Dead-letter queue' }), h('dd', null, q.dead_letter_queue ? queueLink(q.dead_letter_queue) : '—'),
      h('dt', { text: 'Findings' }), h('dd', null, f.length ? h('ul', null, f.map((x) => h('li', null, sevBadge(x.severity), ' ', h('code', { text: x.rule }), ' ', x.title || ''))) : 'none'),
    ));
  },
  drawMessages(st, view) {
    const rows = view.messages.map((m) => h('tr', { 'data-message': m.message_id },
      td(h('a', { href: `#/message/${st.account}/${st.name}/${m.message_id}/${st.region || ''}`, text: m.message_id, title: 'Follow this message' }), 'mono'),
      td(m.state), num(m.receive_count), td(hms(m.sent_timestamp)), td(m.sender_id, 'mono'),
      m.encrypted ? [
        num(m.data_key_id),
        td(h('code', { text: `key/${short(m.key_arn)}`, title: m.key_arn })),
        td(h('code', { text: JSON.stringify(m.encryption_context) })),
        td(h('code', { text: clip(m.encrypted_data_key, 24), title: `${m.encrypted_data_key_bytes} bytes` }), 'edk'),
        td(h('code', { text: b64ToHex(m.nonce) })),
        td(h('code', { text: clip(m.ciphertext, 24), title: `${m.ciphertext_bytes} bytes` }), 'ct'),
        num(m.ciphertext_bytes),
        td(h('code', { text: b64ToHex(m.tag) })),
      ] : [td(h('em', { text: 'stored in clear' })), td(''), td(''), td(''), td(''), td(m.body !== undefined ? h('code', { text: clip(m.body, 40) }) : ''), num(m.body_bytes), td('')],
    ));
    fill(st.msgs, table(
      ['Message id (follow it)', 'State', { label: 'Receives', num: 1 }, 'Sent', 'Sender', { label: 'Data key', num: 1 }, 'KMS key', 'Encryption context', 'Encrypted data key', 'Nonce (hex)', 'Ciphertext', { label: 'Bytes', num: 1 }, 'Tag (hex)'],
      rows, { empty: 'No messages stored.', id: 'messages-table', label: 'Messages' },
    ));
  },
};

views.message = {
  title: 'Follow a message',
  mount(main, [account, name, id, region]) {
    const body = h('div', { id: 'follow' });
    main.append(h('h1', null, 'Follow message ', h('code', { text: id })),
      h('p', { class: 'lead' }, 'On queue ', h('a', { href: queueHref(account, name, region || ''), text: name }), ', step by step with the values the server used.'),
      body);
    return { account, name, id, region, body };
  },
  async refresh(st) {
    const view = await getJSON(`/queues/${encodeURIComponent(st.name)}/messages?message=${encodeURIComponent(st.id)}&${where(st)}`);
    const m = view.messages.find((x) => x.message_id === st.id);
    if (!m) {
      fill(st.body, h('p', { text: 'This message is no longer stored (deleted, moved or expired).' }));
      return;
    }
    if (!m.encrypted) {
      fill(st.body, h('ol', { class: 'steps' },
        h('li', null, h('strong', { text: 'Sent' }), `by ${m.sender_id} at ${iso(m.sent_timestamp)}.`),
        h('li', null, h('strong', { text: 'Stored in clear' }), 'This queue does not encrypt, so the body is kept as sent and no KMS call was made. Turn on SqsManagedSseEnabled or set KmsMasterKeyId to change that.'),
      ));
      return;
    }
    const calls = await getJSON(`/kms/calls?data_key=${m.data_key_id}`);
    const gen = calls.filter((c) => c.operation === 'GenerateDataKey');
    const producer = gen.length ? gen[0].principal : null;
    const verify = calls.filter((c) => c.operation === 'Decrypt' && c.principal === producer).slice(0, 1);
    const consumers = calls.filter((c) => c.operation === 'Decrypt' && !verify.includes(c));
    const callRows = (list) => table(['#', 'Time', 'Operation', 'Principal', 'KMS key', 'Result'],
      list.map((c) => h('tr', null, num(c.seq), timeCell(c.time_ms), td(c.operation), td(principalLabel(c.principal), 'mono'), td(h('code', { text: c.key_arn })), td(c.error ? h('span', { class: 'deny', text: c.error }) : h('span', { class: 'allow', text: 'ok' })))),
      { empty: 'None in the ledger (it may have been cleared, or the data key came from before a restart).' });
    const ctx = JSON.stringify(m.encryption_context);
    fill(st.body, h('ol', { class: 'steps' },
      h('li', null, h('strong', { text: '1. Sent' }),
        `SendMessage by ${producer ? principalLabel(producer) : 'an unknown principal'} (SenderId ${m.sender_id}) at ${iso(m.sent_timestamp)}.`),
      h('li', null, h('strong', { text: `2. Data key ${m.data_key_id} from KMS` }),
        h('p', null, 'The producer\'s cache had no valid data key for this queue, so SQS called GenerateDataKey (AES_256) as the producer, on ', h('code', { text: m.key_arn }), ' with encryption context ', h('code', { text: ctx }), ', then Decrypt once to check the key. Later sends by the same principal reuse it until the reuse period passes.'),
        callRows([...gen, ...verify])),
      h('li', null, h('strong', { text: '3. Sealed' }),
        h('dl', { class: 'kv' },
          h('dt', { text: 'Cipher' }), h('dd', { text: 'AES-256-GCM' }),
          h('dt', { text: 'Nonce (96 bits)' }), h('dd', null, h('code', { text: b64ToHex(m.nonce) })),
          h('dt', { text: 'AAD' }), h('dd', null, h('code', { text: b64ToHex(m.aad) }), h('div', { class: 'muted', text: `length of the queue ARN (4 bytes), the ARN ${m.sealed_by_queue_arn}, and the message id ${m.sealed_for_message_id} (16 bytes): an envelope only opens for the queue and message it was sealed for` })),
          h('dt', { text: 'Ciphertext' }), h('dd', null, h('code', { text: clip(m.ciphertext, 64) }), ` (${m.ciphertext_bytes} bytes, as long as the body)`),
          h('dt', { text: 'Tag' }), h('dd', null, h('code', { text: b64ToHex(m.tag) })),
        )),
      h('li', null, h('strong', { text: '4. Stored' }),
        h('dl', { class: 'kv' },
          h('dt', { text: 'Encrypted data key' }), h('dd', null, h('code', { text: m.encrypted_data_key }), ` (${m.encrypted_data_key_bytes} bytes, a KMS ciphertext blob)`),
          h('dt', { text: 'KMS key' }), h('dd', null, h('code', { text: m.key_arn })),
          h('dt', { text: 'Encryption context' }), h('dd', null, h('code', { text: ctx })),
          h('dt', { text: 'State' }), h('dd', { text: `${m.state}, received ${m.receive_count} time(s)` }),
        )),
      h('li', null, h('strong', { text: '5. What a consumer needs' }),
        h('p', null, m.sse === 'SSE-KMS'
          ? ['sqs:ReceiveMessage on the queue, and kms:Decrypt on ', h('code', { text: m.key_arn }), ' for requests made through SQS (kms:ViaService sqs.*.amazonaws.com) with the encryption context above. The first receive in each reuse period costs that consumer one Decrypt; messages under data keys the server still holds are then opened without KMS.']
          : ['sqs:ReceiveMessage on the queue. SSE-SQS uses a key SQS owns, so no KMS permission is needed; the Decrypt calls still happen and are counted below.']),
        h('p', { text: 'Decrypt calls made for this data key by consumers so far:' }),
        callRows(consumers)),
    ));
  },
};

views.datakeys = {
  title: 'Data keys',
  mount(main) {
    const totals = h('div', { id: 'cache-totals', class: 'panel' });
    const prod = h('div', { id: 'producers' });
    const cons = h('div', { id: 'consumers' });
    main.append(h('h1', { text: 'Data keys' }),
      h('p', { class: 'lead', text: 'The producer and consumer caches of SQS\'s data keys, per principal, queue and KMS key. An entry is used until its reuse period passes on the server\'s clock; then the next send or receive calls KMS again. Plaintext keys are never shown.' }),
      totals, h('h2', { text: 'Producers (GenerateDataKey + Decrypt per period)' }), prod,
      h('h2', { text: 'Consumers (Decrypt per period)' }), cons);
    return { totals, prod, cons };
  },
  async refresh(st) {
    const d = await getJSON('/datakeys');
    redraw(st.prod, [d.entries, d.totals, d.held_data_keys], () => this.draw(st, d));
  },
  draw(st, d) {
    const t = d.totals;
    fill(st.totals, h('span', { text: `Producer lookups: ${t.producer_hits} hits, ${t.producer_misses} misses · Consumer lookups: ${t.consumer_hits} hits, ${t.consumer_misses} misses · Data keys held in memory: ${d.held_data_keys}` }));
    const rows = (role) => d.entries.filter((e) => e.cache === role).map((e) => h('tr', { 'data-principal': e.principal, 'data-queue': queueName(e.queue_arn) },
      td(principalLabel(e.principal), 'mono'), td(queueLink(e.queue_arn)), td(h('code', { text: e.key_arn })), td(sseBadge(e.sse)),
      num(e.data_key_id ?? '—'), timeCell(e.made_ms), timeCell(e.expires_ms),
      td(h('span', { class: 'countdown', 'data-expires': e.expires_ms, text: duration(e.expires_ms - serverNow()) })),
      num(e.hits), num(e.misses)));
    const heads = ['Principal', 'Queue', 'KMS key', 'SSE', { label: 'Data key', num: 1 }, 'Made', 'Expires (server clock)', 'Expires in', { label: 'Hits', num: 1 }, { label: 'Misses', num: 1 }];
    fill(st.prod, table(heads, rows('producer'), { empty: 'No producer holds a data key now.', id: 'producer-table', label: 'Producer cache' }));
    fill(st.cons, table(heads, rows('consumer'), { empty: 'No consumer holds a Decrypt grant now.', id: 'consumer-table', label: 'Consumer cache' }));
  },
};

views.kms = {
  title: 'KMS calls',
  mount(main) {
    const st = { calls: [], seq: 0 };
    st.principal = h('select', { id: 'f-principal', onchange: () => this.draw(st) }, h('option', { value: '', text: 'all' }));
    st.operation = h('select', { id: 'f-operation', onchange: () => this.draw(st) },
      h('option', { value: '', text: 'all' }), h('option', { value: 'GenerateDataKey', text: 'GenerateDataKey' }), h('option', { value: 'Decrypt', text: 'Decrypt' }));
    st.queue = h('select', { id: 'f-queue', onchange: () => { st.userD = false; this.draw(st); } }, h('option', { value: '', text: 'all' }));
    st.chart = h('div', { id: 'timeline' });
    st.tableBox = h('div', { id: 'calls' });
    const input = (id, label, value, step) => {
      const el = h('input', { id, type: 'number', min: '0', step: step || '1', value: String(value), oninput: () => { st.edited[id] = true; this.cost(st); } });
      return [h('label', { for: id }, label, el), el];
    };
    st.edited = {};
    const [lp, p] = input('cost-p', 'P producers', 0);
    const [lc, c] = input('cost-c', 'C consumers', 0);
    const [lb, b] = input('cost-b', 'B seconds of activity', 0);
    const [ld, dd] = input('cost-d', 'D reuse period (s)', 300);
    const [lpr, price] = input('cost-price', 'USD per 10,000 requests', DEFAULT_PRICE, '0.001');
    Object.assign(st, { p, c, b, d: dd, price });
    st.costOut = h('div', { id: 'cost-out' });
    const reset = h('button', { class: 'secondary', type: 'button', onclick: () => { st.edited = {}; this.cost(st); } }, 'Take P, C, B, D from the ledger');
    main.append(h('h1', { text: 'KMS calls' }),
      h('p', { class: 'lead', text: 'Every GenerateDataKey and Decrypt call SQS made, as which principal, on which key. Failed calls are red.' }),
      h('div', { class: 'controls' }, h('label', null, 'Principal', st.principal), h('label', null, 'Operation', st.operation), h('label', null, 'Queue', st.queue)),
      st.chart,
      h('section', { class: 'panel', 'aria-labelledby': 'cost-h' },
        h('h2', { id: 'cost-h', text: 'Cost formula: R = (B / D) × (2P + C)' }),
        h('p', { class: 'muted', text: 'From the SQS key-management guide: P producers and C consumers active for B seconds with a reuse period of D seconds make about R KMS calls (a producer\'s GenerateDataKey and Decrypt, a consumer\'s Decrypt, once per period). The values below come from the calls shown (filters apply); edit any of them.' }),
        h('div', { class: 'controls' }, lp, lc, lb, ld, lpr, reset),
        st.costOut),
      h('h2', { text: 'Calls (newest first)' }), st.tableBox);
    return st;
  },
  async refresh(st) {
    const [r, queues] = await Promise.all([fetch(`${API}/kms/calls?since=${st.seq}`, { cache: 'no-store' }), getJSON('/queues')]);
    if (!r.ok) throw new Error(`/kms/calls: HTTP ${r.status}`);
    const fresh = await r.json();
    // Calls the server no longer holds (the ledger was cleared, or its
    // oldest dropped for space) go; numbers keep growing, so `since` holds.
    const first = Number(r.headers.get('x-sealq-ledger-first-seq') || 0);
    if (st.calls.length && st.calls[0].seq < first) st.calls = st.calls.filter((c) => c.seq >= first);
    if (fresh.length) {
      st.calls.push(...fresh);
      st.seq = fresh[fresh.length - 1].seq;
    }
    st.queues = queues.queues;
    const keep = (sel, values) => {
      const cur = sel.value;
      const have = new Set(Array.from(sel.options).map((o) => o.value));
      for (const v of values) if (!have.has(v)) sel.append(h('option', { value: v, text: sel === st.queue ? queueName(v) : principalLabel(v) }));
      sel.value = cur;
    };
    keep(st.principal, [...new Set(st.calls.map((c) => c.principal))].sort());
    keep(st.queue, [...new Set(st.calls.map((c) => c.queue_arn))].sort());
    // The timeline's right edge is the server's now, so it moves on even
    // without new calls; the table and formula change only with them.
    this.draw(st);
  },
  filtered(st) {
    return st.calls.filter((c) => (!st.principal.value || c.principal === st.principal.value)
      && (!st.operation.value || c.operation === st.operation.value)
      && (!st.queue.value || c.queue_arn === st.queue.value));
  },
  draw(st) {
    const calls = this.filtered(st);
    this.chart(st, calls);
    const rows = calls.slice(-200).reverse().map((c) => h('tr', { 'data-seq': c.seq, 'data-operation': c.operation },
      num(c.seq), timeCell(c.time_ms), td(c.operation), td(principalLabel(c.principal), 'mono'), td(queueLink(c.queue_arn)),
      td(h('code', { text: c.key_arn })), td(c.sse), num(c.data_key_id),
      td(c.error ? h('span', { class: 'deny', text: c.error }) : h('span', { class: 'allow', text: 'ok' }))));
    fill(st.tableBox, h('p', { id: 'calls-count', class: 'muted', text: `${calls.length} call(s) shown of ${st.calls.length} in the ledger${calls.length > 200 ? '; the table lists the newest 200' : ''}.` }),
      table(['#', 'Time (server)', 'Operation', 'Principal', 'Queue', 'KMS key', 'SSE', { label: 'Data key', num: 1 }, 'Result'], rows, { empty: 'No KMS calls yet: send to an encrypted queue.', id: 'calls-table', label: 'KMS calls' }));
    this.cost(st);
  },
  chart(st, calls) {
    const lanes = [...new Set(calls.map((c) => `${principalLabel(c.principal)} · ${c.operation}`))].sort();
    const W = 1000; const left = 260; const right = 20; const laneH = 26; const top = 10;
    const H = top + Math.max(1, lanes.length) * laneH + 34;
    const t0 = calls.length ? calls[0].time_ms : serverNow();
    const t1 = Math.max(serverNow(), calls.length ? calls[calls.length - 1].time_ms : 0, t0 + 1000);
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (W - left - right);
    const svg = s('svg', { class: 'timeline', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `Timeline of ${calls.length} KMS calls in ${lanes.length} lanes` });
    lanes.forEach((lane, i) => {
      const y = top + i * laneH + laneH / 2;
      svg.append(s('line', { class: 'lane', x1: left, x2: W - right, y1: y, y2: y }), s('text', { x: 6, y: y + 4, text: clip(lane, 40) }));
    });
    for (const c of calls) {
      const i = lanes.indexOf(`${principalLabel(c.principal)} · ${c.operation}`);
      const y = top + i * laneH + laneH / 2;
      const color = c.error ? 'var(--err)' : (c.operation === 'GenerateDataKey' ? 'var(--gdk)' : 'var(--dec)');
      svg.append(s('circle', { cx: x(c.time_ms).toFixed(1), cy: y, r: c.error ? 6 : 5, fill: color, 'data-seq': c.seq },
        s('title', { text: `#${c.seq} ${c.operation} by ${c.principal} at ${iso(c.time_ms)} on ${queueName(c.queue_arn)}${c.error ? ` — ${c.error}` : ''}` })));
    }
    const yAxis = top + Math.max(1, lanes.length) * laneH + 8;
    svg.append(s('line', { class: 'lane', x1: left, x2: W - right, y1: yAxis, y2: yAxis }));
    const fine = t1 - t0 < 60000;
    for (let k = 0; k <= 4; k += 1) {
      const t = t0 + ((t1 - t0) * k) / 4;
      const label = new Date(t).toISOString().slice(11, fine ? 23 : 19);
      svg.append(s('text', { x: x(t), y: yAxis + 16, 'text-anchor': k === 0 ? 'start' : (k === 4 ? 'end' : 'middle'), text: label }));
    }
    fill(st.chart, svg, h('div', { class: 'legend muted' },
      h('span', null, h('span', { class: 'dot gdk' }), 'GenerateDataKey'),
      h('span', null, h('span', { class: 'dot dec' }), 'Decrypt'),
      h('span', null, h('span', { class: 'dot err' }), 'failed call')));
  },
  /** P, C, B and D as the ledger (filters applied) shows them. */
  derived(st) {
    const calls = this.filtered(st).filter((c) => !c.error);
    const gen = calls.filter((c) => c.operation === 'GenerateDataKey');
    const producers = new Set(gen.map((c) => c.principal));
    // A consumer's Decrypt opens a data key someone else generated (or it
    // generated in an earlier period); a producer's first Decrypt of its
    // own new key is the check that comes with every GenerateDataKey.
    const madeBy = new Map(gen.map((c) => [c.data_key_id, c.principal]));
    const checked = new Set();
    const consumers = new Set();
    for (const c of calls) {
      if (c.operation !== 'Decrypt') continue;
      const key = `${c.data_key_id}`;
      if (madeBy.get(c.data_key_id) === c.principal && !checked.has(key)) { checked.add(key); continue; }
      consumers.add(c.principal);
    }
    const first = calls.length ? calls[0].time_ms : serverNow();
    const B = Math.max(0, Math.round((serverNow() - first) / 1000));
    const qArns = st.queue.value ? [st.queue.value] : [...new Set(calls.map((c) => c.queue_arn))];
    const periods = qArns.map((a) => (st.queues || []).find((q) => q.arn === a)).filter((q) => q && q.reuse_period_seconds).map((q) => q.reuse_period_seconds);
    const D = periods.length ? Math.min(...periods) : 300;
    return { P: producers.size, C: consumers.size, B, D, observed: calls.length, failed: this.filtered(st).length - calls.length, gen: gen.length };
  },
  cost(st) {
    const d = this.derived(st);
    const set = (el, id, v) => { if (!st.edited[id] && document.activeElement !== el) el.value = String(v); };
    set(st.p, 'cost-p', d.P); set(st.c, 'cost-c', d.C); set(st.b, 'cost-b', d.B); set(st.d, 'cost-d', d.D);
    const P = Number(st.p.value) || 0; const C = Number(st.c.value) || 0; const B = Number(st.b.value) || 0;
    const D = Number(st.d.value) || 0; const price = Number(st.price.value) || 0;
    const R = D > 0 ? (B / D) * (2 * P + C) : NaN;
    const whole = D > 0 ? Math.max(1, Math.ceil(B / D)) * (2 * P + C) : NaN;
    const usd = (n) => `$${((n * price) / 10000).toFixed(6)}`;
    fill(st.costOut, h('div', { class: 'grid' },
      h('div', null, h('div', { class: 'muted', text: 'Formula R = (B / D) × (2P + C)' }), h('div', { class: 'big', id: 'cost-r', text: Number.isFinite(R) ? R.toFixed(2) : '—' }), h('div', { class: 'muted', text: Number.isFinite(R) ? usd(R) : '' })),
      h('div', null, h('div', { class: 'muted', text: 'With whole periods ⌈B / D⌉ × (2P + C)' }), h('div', { class: 'big', id: 'cost-whole', text: Number.isFinite(whole) ? String(whole) : '—' }), h('div', { class: 'muted', text: Number.isFinite(whole) ? usd(whole) : '' })),
      h('div', null, h('div', { class: 'muted', text: 'Successful calls in the ledger' }), h('div', { class: 'big', id: 'cost-observed', text: String(d.observed) }), h('div', { class: 'muted', text: `${usd(d.observed)}${d.failed ? ` · ${d.failed} failed call(s) not counted` : ''}` })),
    ), h('p', { class: 'muted', text: 'A period that has started costs its calls in full, so the ledger matches the whole-period count while every producer and consumer stays active in every period; fewer active principals make fewer calls.' }));
  },
};

views.clock = {
  title: 'Clock & faults',
  mount(main) {
    const st = {};
    st.now = h('div', { class: 'big', id: 'clock-now' });
    st.secs = h('input', { id: 'advance-seconds', type: 'number', min: '0', step: '1', value: '300' });
    st.fault = h('div', { id: 'fault-state' });
    st.feed = h('div', { id: 'recent-calls' });
    const advance = h('button', { id: 'advance', type: 'button', onclick: () => this.advance(st) }, 'Advance the clock');
    const faultButtons = ['healthy', 'unavailable', 'throttling'].map((f) => h('button', { type: 'button', class: 'secondary', id: `fault-${f}`, onclick: () => this.setFault(st, f) }, f === 'healthy' ? 'KMS healthy' : `KMS ${f}`));
    main.append(h('h1', { text: 'Clock & faults' }),
      h('div', { class: 'grid' },
        h('section', { class: 'panel', 'aria-labelledby': 'clock-h' }, h('h2', { id: 'clock-h', text: 'Virtual clock' }),
          h('p', { class: 'muted', text: 'Every timer of the server runs on this clock: visibility timeouts, delays, retention, and the data-key reuse period. Advance it to make a reuse period pass without waiting.' }),
          st.now, h('div', { class: 'controls' }, h('label', { for: 'advance-seconds' }, 'Seconds', st.secs), advance)),
        h('section', { class: 'panel', 'aria-labelledby': 'fault-h' }, h('h2', { id: 'fault-h', text: 'KMS fault switch' }),
          h('p', { class: 'muted', text: 'Make KMS fail: sends and receives that need a KMS call then fail with SQS\'s KMS errors; cached data keys keep working until their period ends.' }),
          st.fault, h('div', { class: 'controls' }, faultButtons))),
      h('h2', { text: 'Latest KMS calls' }), st.feed);
    return st;
  },
  async advance(st) {
    const secs = Number(st.secs.value);
    if (!Number.isFinite(secs) || secs < 0) { setStatus('Seconds must be a non-negative number.', true); return; }
    try {
      const r = await postJSON('/clock', { advance_seconds: secs });
      setServerNow(r.now_ms);
      setStatus(`Clock advanced by ${secs} s; server time is now ${iso(r.now_ms)}.`);
      await this.refresh(st);
    } catch (e) { setStatus(`Advancing the clock failed: ${e.message}`, true); }
  },
  async setFault(st, f) {
    try {
      await postJSON('/faults', { kms: f });
      setStatus(`KMS is now ${f}.`);
      await this.refresh(st);
      updateHeader();
    } catch (e) { setStatus(`Setting the fault failed: ${e.message}`, true); }
  },
  async refresh(st) {
    const [clock, faults, calls] = await Promise.all([getJSON('/clock'), getJSON('/faults'), getJSON('/kms/calls')]);
    setServerNow(clock.now_ms);
    st.now.textContent = iso(clock.now_ms);
    fill(st.fault, h('p', null, 'KMS is ', h('span', { class: `badge ${faults.kms === 'healthy' ? 'sse-kms' : 'fault-on'}`, id: 'fault-now', text: faults.kms })));
    fill(st.feed, table(['#', 'Time', 'Operation', 'Principal', 'Queue', 'Result'],
      calls.slice(-10).reverse().map((c) => h('tr', null, num(c.seq), timeCell(c.time_ms), td(c.operation), td(principalLabel(c.principal), 'mono'), td(queueLink(c.queue_arn)), td(c.error ? h('span', { class: 'deny', text: c.error }) : h('span', { class: 'allow', text: 'ok' })))),
      { empty: 'No KMS calls yet.', id: 'recent-table' }));
  },
};

views.keys = {
  title: 'Keys',
  mount(main) {
    const body = h('div', { id: 'keys-body' });
    main.append(h('h1', { text: 'KMS keys' }), h('p', { class: 'lead', text: 'Keys and aliases of every account, their state and rotation, and their key policies. SSE-SQS uses a key SQS owns, which KMS does not list.' }), body);
    return { body, open: new Set() };
  },
  async refresh(st) {
    const d = await getJSON('/kms/keys');
    redraw(st.body, d.keys, () => this.draw(st, d));
  },
  draw(st, d) {
    const rows = d.keys.map((k) => {
      let policy = k.policy;
      try { policy = JSON.stringify(JSON.parse(k.policy), null, 2); } catch (_) { /* shown as stored */ }
      const details = h('details', { ontoggle: (e) => (e.target.open ? st.open.add(k.arn) : st.open.delete(k.arn)) }, h('summary', { text: 'Key policy' }), h('pre', { text: policy }));
      if (st.open.has(k.arn)) details.open = true;
      return h('tr', { 'data-key': k.key_id },
        td(k.account, 'mono'), td(k.aliases.length ? k.aliases.join(', ') : '—', 'mono'), td(h('code', { text: k.arn })),
        td(k.manager), td(h('span', { class: `badge ${k.state === 'Enabled' ? 'sse-kms' : 'sse-none'}`, text: k.state })),
        td(k.rotation_enabled ? `every ${k.rotation_period_days} days (next ${iso(k.next_rotation_ms).slice(0, 10)})` : 'off'),
        num(k.rotations), td(iso(k.created_ms)), td(details));
    });
    fill(st.body, table(['Account', 'Aliases', 'Key ARN', 'Manager', 'State', 'Automatic rotation', { label: 'Rotations', num: 1 }, 'Created', 'Policy'], rows,
      { empty: 'No KMS keys. alias/aws/sqs appears once a queue uses it.', id: 'keys-table', label: 'KMS keys' }));
  },
};

views.decisions = {
  title: 'Decisions',
  mount(main) {
    const body = h('div', { id: 'decisions-body' });
    main.append(h('h1', { text: 'Authorization decisions' }), h('p', { class: 'lead', text: 'The latest decisions of the IAM evaluator on SQS and KMS requests (including the KMS calls SQS makes for a caller), newest first, with the statements that decided them.' }), body);
    return { body };
  },
  async refresh(st) {
    const list = (await getJSON('/authz/decisions')).slice(0, 200);
    redraw(st.body, list, () => this.draw(st, list));
  },
  draw(st, list) {
    const rows = list.map((d) => h('tr', null,
      timeCell(Date.parse(d.time)), td(principalLabel(d.principal), 'mono'), td(d.action, 'mono'), td(h('code', { text: d.resource })),
      td(h('span', { class: d.decision === 'allow' ? 'allow' : 'deny', text: d.decision.replace('_', ' ') })),
      td(d.enforced ? 'yes' : 'no (open mode)'), td(d.via_service || ''),
      td(h('span', null, d.reason, d.deciding_statements.length ? h('div', { class: 'muted' }, d.deciding_statements.map((x) => `${x.effect} ${x.policy} statement ${x.statement}${x.sid ? ` (${x.sid})` : ''}`).join('; ')) : ''))));
    fill(st.body, table(['Time', 'Principal', 'Action', 'Resource', 'Decision', 'Enforced', 'Via', 'Why'], rows, { empty: 'No decisions recorded yet.', id: 'decisions-table', label: 'Decisions' }));
  },
};

views.audit = {
  title: 'Audit',
  mount(main, [resource]) {
    const body = h('div', { id: 'audit-body' });
    main.append(h('h1', { text: 'Security posture audit' }),
      h('p', { class: 'lead' }, 'The findings of ', h('code', { text: 'sealq audit' }), ' on this server (also at ', h('code', { text: 'GET /_sealq/audit' }), ').'),
      body);
    return { body, resource: resource ? decodeURIComponent(resource) : null };
  },
  async refresh(st) {
    auditCache.at = 0;
    const audit = await findings();
    if (audit.unavailable) { fill(st.body, h('p', { class: 'error', text: audit.unavailable })); return; }
    const list = (audit.findings || []).filter((f) => !st.resource || f.resource === st.resource);
    const sum = audit.summary || {};
    fill(st.body,
      h('p', { id: 'audit-summary' }, ['critical', 'high', 'medium', 'low', 'info'].flatMap((k) => [sevBadge(k), ` ${sum[k] || 0}  `]),
        st.resource ? [' · showing ', h('code', { text: st.resource }), ' ', h('a', { href: '#/audit', text: 'show all' })] : ''),
      table(['Severity', 'Rule', 'Resource', 'Finding', 'Why it matters', 'How to fix'],
        list.map((f) => h('tr', { 'data-rule': f.rule }, td(sevBadge(f.severity)), td(f.rule, 'mono'), td(h('code', { text: f.resource })), td(f.title || ''), td(f.why || ''), td(f.fix || ''))),
        { empty: 'No findings.', id: 'audit-table', label: 'Findings' }));
  },
};

// ----------------------------------------------------------------- router

let current = null;

function route() {
  const parts = (location.hash || '#/queues').replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const name = views[parts[0]] ? parts[0] : 'queues';
  return { name, params: parts.slice(1) };
}

async function show() {
  if (current) clearTimeout(current.timer);
  const { name, params } = route();
  const view = views[name];
  const main = document.getElementById('main');
  main.replaceChildren();
  const me = { view, name, timer: 0 };
  current = me;
  me.state = view.mount(main, params);
  const navView = name === 'queue' || name === 'message' ? 'queues' : name;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === navView) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = `${view.title} · sealq console`;
  await tick(me);
}

async function tick(me) {
  if (current !== me) return;
  try {
    await me.view.refresh(me.state);
    if (current === me) setStatus(`Updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    if (current === me) setStatus(e.message, true);
  }
  if (current === me) {
    me.timer = setTimeout(() => {
      if (document.hidden) return; // resumed by visibilitychange
      tick(me);
    }, REFRESH_MS);
  }
}

async function updateHeader() {
  const el = document.getElementById('server-clock');
  el.textContent = `server time ${iso(Math.floor(serverNow() / 1000) * 1000)}`;
}

async function updateFault() {
  try {
    const f = await getJSON('/faults');
    const b = document.getElementById('fault-badge');
    b.hidden = f.kms === 'healthy';
    b.textContent = `KMS ${f.kms}`;
    b.className = 'badge fault-on';
  } catch (_) { /* the status line shows view errors */ }
}

function tickCountdowns() {
  const now = serverNow();
  for (const el of document.querySelectorAll('[data-expires]')) {
    const left = Number(el.dataset.expires) - now;
    el.textContent = duration(left);
    el.classList.toggle('soon', left < 30000);
  }
  updateHeader();
}

window.addEventListener('hashchange', show);
document.addEventListener('visibilitychange', () => { if (!document.hidden && current) { clearTimeout(current.timer); tick(current); } });
document.addEventListener('DOMContentLoaded', async () => {
  try { setServerNow((await getJSON('/clock')).now_ms); updateHeader(); } catch (e) { setStatus(e.message, true); }
  setInterval(tickCountdowns, 1000);
  setInterval(() => { if (!document.hidden) updateFault(); }, REFRESH_MS * 2);
  updateFault();
  show();
});
