// Agent-side helpers for the end-to-end tests of the deploy pipeline:
// a streaming Server-Sent-Events client, a "stuck" client that never
// reads, the canonical form and ed25519 check of command signatures, and
// small helpers to make locations, nodes and deploys through the API.

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import assert from 'node:assert/strict';

import { api, assertOk, randomSecret } from './mcd.mjs';

const STREAM_PATH = '/api/fleet/stream';

function streamPath(query) {
    const q = new URLSearchParams(query || {}).toString();
    return q ? `${STREAM_PATH}?${q}` : STREAM_PATH;
}

// Parses an SSE byte stream into items, as the spec says: lines end with
// LF, CRLF or CR; a blank line dispatches; ":" starts a comment.
class SseParser {
    constructor(onItem) {
        this.onItem = onItem;
        this.rest = '';
        this.reset();
    }

    reset() {
        this.id = null;
        this.event = null;
        this.data = null;
    }

    push(text) {
        this.rest += text;
        for (;;) {
            const m = /\r\n|\r|\n/.exec(this.rest);
            if (!m) {
                return;
            }
            // A lone CR at the end may be the first half of a CRLF.
            if (m[0] === '\r' && m.index === this.rest.length - 1) {
                return;
            }
            const line = this.rest.slice(0, m.index);
            this.rest = this.rest.slice(m.index + m[0].length);
            this.line(line);
        }
    }

    line(line) {
        if (line === '') {
            if (this.data !== null) {
                this.onItem({
                    type: 'event', id: this.id, event: this.event || 'message',
                    data: this.data,
                });
            }
            this.reset();
            return;
        }
        if (line.startsWith(':')) {
            this.onItem({ type: 'comment', text: line.slice(1).trim() });
            return;
        }
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) {
            value = value.slice(1);
        }
        if (field === 'id') {
            this.id = value;
        } else if (field === 'event') {
            this.event = value;
        } else if (field === 'data') {
            this.data = this.data === null ? value : `${this.data}\n${value}`;
        } else if (field === 'retry') {
            this.onItem({ type: 'retry', value: Number(value) });
        }
    }
}

// Opens the agent stream with node:http. Resolves once the answer's head
// arrived: {status, headers, items, events, comments, json (for an error
// answer), ended (a promise), waitFor(pred, ms), waitForEvents(n, ms),
// close()}. Every item carries `at`, performance.now() when it arrived.
// opts: token (agent token; null for none), query, lastEventId, headers.
export function openStream(srv, opts = {}) {
    const headers = { Accept: 'text/event-stream', ...(opts.headers || {}) };
    if (opts.token) {
        headers.Authorization = `Bearer ${opts.token}`;
    }
    if (opts.lastEventId !== undefined) {
        headers['Last-Event-ID'] = String(opts.lastEventId);
    }
    return new Promise((resolve, reject) => {
        const req = http.request(srv.url + streamPath(opts.query), {
            method: 'GET', headers, agent: false,
        });
        req.on('error', reject);
        req.on('response', (res) => resolve(wrapStream(req, res)));
        req.end();
    });
}

function wrapStream(req, res) {
    const s = {
        status: res.statusCode,
        headers: res.headers,
        items: [],
        events: [],
        comments: [],
        text: '',
        json: null,
        closed: false,
        waiters: new Set(),
    };
    let endResolve;
    s.ended = new Promise((r) => { endResolve = r; });
    const parser = new SseParser((item) => {
        item.at = performance.now();
        if (item.type === 'event') {
            try {
                item.json = JSON.parse(item.data);
            } catch {
                item.json = null;
            }
            s.events.push(item);
        } else if (item.type === 'comment') {
            s.comments.push(item);
        }
        s.items.push(item);
        s.check();
    });
    s.check = () => {
        for (const w of [...s.waiters]) {
            w.poll();
        }
    };
    const finish = (how) => {
        if (s.closed) {
            return;
        }
        s.closed = true;
        s.endedAt = performance.now();
        s.endedHow = how;
        if (s.status !== 200) {
            try {
                s.json = JSON.parse(s.text);
            } catch {
                s.json = null;
            }
        }
        endResolve(how);
        s.check();
    };
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
        if (s.status === 200) {
            parser.push(chunk);
        } else {
            s.text += chunk;
        }
    });
    res.on('end', () => finish('end'));
    res.on('error', () => finish('error'));
    res.on('close', () => finish('close'));
    req.on('error', () => finish('error'));

    // Resolves with the first item (or true) for which pred(s) holds;
    // rejects after ms with what arrived so far.
    s.waitFor = (pred, ms = 5000, what = 'condition') =>
        new Promise((resolve, reject) => {
            const w = {
                poll: () => {
                    let v;
                    try {
                        v = pred(s);
                    } catch (err) {
                        s.waiters.delete(w);
                        clearTimeout(w.timer);
                        reject(err);
                        return;
                    }
                    if (v) {
                        s.waiters.delete(w);
                        clearTimeout(w.timer);
                        resolve(v);
                    }
                },
            };
            w.timer = setTimeout(() => {
                s.waiters.delete(w);
                reject(new Error(
                    `stream: no ${what} within ${ms} ms; closed=${s.closed}; ` +
                    `got ${s.events.length} events: ` +
                    JSON.stringify(s.events.map((e) => e.id))));
            }, ms);
            s.waiters.add(w);
            w.poll();
        });
    s.waitForEvents = (n, ms = 5000) =>
        s.waitFor((x) => x.events.length >= n && x.events.slice(0, n), ms,
                  `${n} events`);
    s.waitForCommand = (id, ms = 5000) =>
        s.waitFor((x) => x.events.find((e) => e.json && e.json.id === id),
                  ms, `command ${id}`);
    s.waitForEnd = (ms = 5000) =>
        s.waitFor((x) => x.closed, ms, 'end of stream');
    s.close = () => {
        req.destroy();
        res.destroy();
        finish('closed by client');
        return s.ended;
    };
    return s;
}

// A client that sends the stream request and never reads a byte of the
// answer, so the server's output piles up.
//
// How much a non-reading peer absorbs is up to the kernels: on loopback
// the server's send buffer grows to tcp_wmem's maximum (4 MiB) before
// mcd's own buffer grows at all. Node cannot shrink that, so by default
// the client is a tiny python3 program that sets SO_RCVBUF and TCP_MAXSEG
// before it connects (the server's send buffer is sized from the MSS),
// which brings it down to ~50 KiB. opts.node: a plain node socket instead.
//
// Resolves once the request is sent: {drain(ms) -> {eof, bytes}: starts
// reading and resolves when the server's end arrives (eof) or after ms,
// close()}.
const STUCK_PY = `
import os, socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
s.connect(("127.0.0.1", port))
s.sendall(("GET %s HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\n"
           "Authorization: Bearer %s\\r\\nAccept: text/event-stream\\r\\n\\r\\n"
           % (path, port, os.environ["MC_STUCK_TOKEN"])).encode())
print("sent", flush=True)
sys.stdin.readline()
s.settimeout(float(sys.argv[3]))
n = 0
try:
    while True:
        b = s.recv(65536)
        if not b:
            print("eof %d" % n, flush=True)
            break
        n += len(b)
except Exception as e:
    print("open %d %s" % (n, type(e).__name__), flush=True)
`;

export function openStuckStream(srv, token, opts = {}) {
    return opts.node ? stuckNode(srv, token, opts)
                     : stuckPython(srv, token, opts);
}

function stuckPython(srv, token, opts) {
    const drainMs = opts.drainMs || 5000;
    const proc = spawn('python3', ['-c', STUCK_PY, String(srv.port),
                                   streamPath(opts.query),
                                   String(drainMs / 1000)], {
        env: { ...process.env, MC_STUCK_TOKEN: token },
        stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    const lines = [];
    const waiters = [];
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
        out += d;
        let i;
        while ((i = out.indexOf('\n')) >= 0) {
            lines.push(out.slice(0, i));
            out = out.slice(i + 1);
            for (const w of waiters.splice(0)) {
                w();
            }
        }
    });
    const exited = new Promise((r) => proc.once('exit', r));
    const nextLine = (n) => new Promise((resolve, reject) => {
        const check = () => {
            if (lines.length >= n) {
                resolve(lines[n - 1]);
            } else if (proc.exitCode !== null) {
                reject(new Error(`stuck client exited: ${lines}`));
            } else {
                waiters.push(check);
            }
        };
        check();
        exited.then(() => {
            if (lines.length < n) {
                reject(new Error(`stuck client exited: ${lines}`));
            }
        });
    });
    const stuck = {
        kind: 'python',
        drain: async () => {
            proc.stdin.write('go\n');
            const [what, n] = (await nextLine(2)).split(' ');
            return { eof: what === 'eof', bytes: Number(n) };
        },
        close: () => {
            if (proc.exitCode === null && proc.signalCode === null) {
                proc.kill('SIGKILL');
            }
            return exited;
        },
    };
    return nextLine(1).then(() => stuck);
}

function stuckNode(srv, token, opts) {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ host: '127.0.0.1', port: srv.port });
        let bytes = 0;
        const ended = new Promise((r) => {
            socket.once('end', () => r(true));
            socket.once('close', () => r(true));
            socket.on('error', () => r(true));
        });
        socket.once('error', reject);
        socket.once('connect', () => {
            // Never read: paused, and no 'data' listener until drain().
            socket.pause();
            socket.write(
                `GET ${streamPath(opts.query)} HTTP/1.1\r\n` +
                `Host: 127.0.0.1:${srv.port}\r\n` +
                `Authorization: Bearer ${token}\r\n` +
                'Accept: text/event-stream\r\n\r\n');
            resolve({
                kind: 'node',
                drain: async (ms = opts.drainMs || 5000) => {
                    socket.on('data', (c) => { bytes += c.length; });
                    socket.resume();
                    const eof = await Promise.race([
                        ended, sleep(ms).then(() => false)]);
                    return { eof, bytes };
                },
                close: () => {
                    socket.destroy();
                    return ended;
                },
            });
        });
    });
}

// --- signatures -----------------------------------------------------------

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

// The canonical form the server signs: keys of every object sorted, no
// whitespace (JSON.stringify escapes what jansson escapes for these).
export function canonical(value) {
    if (Array.isArray(value)) {
        return `[${value.map(canonical).join(',')}]`;
    }
    if (value !== null && typeof value === 'object') {
        const keys = Object.keys(value).sort((a, b) =>
            Buffer.compare(Buffer.from(a), Buffer.from(b)));
        return `{${keys.map((k) =>
            `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
    }
    return JSON.stringify(value);
}

export function publicKeyFromBase64(b64) {
    const raw = Buffer.from(b64, 'base64');
    assert.equal(raw.length, 32, `serverPublicKey is ${raw.length} bytes`);
    return crypto.createPublicKey({
        key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
        format: 'der',
        type: 'spki',
    });
}

// True when command.signature is the server's over the canonical bytes of
// the command without its signature; `bytes` overrides those bytes.
export function verifyCommand(command, publicKeyB64, bytes) {
    const { signature, ...rest } = command;
    const msg = bytes || Buffer.from(canonical(rest), 'utf8');
    const sig = Buffer.from(signature, 'base64');
    return crypto.verify(null, msg, publicKeyFromBase64(publicKeyB64), sig);
}

// --- fleet set-up through the API -----------------------------------------

export async function createLocation(srv, fields = {}, token) {
    const body = {
        name: fields.name || `Venue ${randomSecret(6)}`,
        timezone: fields.timezone || 'Europe/Berlin',
    };
    if (fields.organizationId !== undefined) {
        body.organizationId = fields.organizationId;
    }
    const res = await api(srv, 'POST', '/api/admin/locations', {
        token, body,
    });
    return assertOk(res, 201).location;
}

// Registers a node: {serverNode, token, serverPublicKey}.
export async function registerNode(srv, locationId, token, name = 'pos-1') {
    const res = await api(srv, 'POST',
                          `/api/admin/locations/${locationId}/nodes`, {
                              token, body: { name },
                          });
    return assertOk(res, 201);
}

// A location with a registered node: {location, node, agentToken, publicKey}.
export async function newSite(srv, token, fields = {}) {
    const location = await createLocation(srv, fields, token);
    const reg = await registerNode(srv, location.id, token);
    return {
        location,
        node: reg.serverNode,
        agentToken: reg.token,
        publicKey: reg.serverPublicKey,
    };
}

export async function deploy(srv, release, locationIds, opts = {}) {
    return api(srv, 'POST',
               `/api/admin/releases/${encodeURIComponent(release)}/deploy`, {
                   token: opts.token,
                   headers: opts.headers,
                   body: opts.body || { locationIds },
               });
}

export async function getCommand(srv, id, token) {
    return api(srv, 'GET', `/api/admin/commands/${id}`, { token });
}

export async function report(srv, agentToken, commandId, status, message) {
    const body = { status };
    if (message !== undefined) {
        body.message = message;
    }
    return api(srv, 'POST', `/api/fleet/commands/${commandId}/status`, {
        token: agentToken, body,
    });
}

export async function listLocations(srv, token, query = '?limit=1000') {
    const res = await api(srv, 'GET', `/api/admin/locations${query}`, {
        token,
    });
    return assertOk(res).locations;
}

export async function findLocation(srv, id, token) {
    const all = await listLocations(srv, token);
    return all.find((l) => l.id === id) || null;
}

// Runs fn over items with at most `width` calls at a time.
export async function parallel(items, width, fn) {
    const out = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            out[i] = await fn(items[i], i);
        }
    };
    await Promise.all(Array.from({ length: Math.min(width, items.length) },
                                 worker));
    return out;
}

export function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
}

let versionSeq = 0;

// A fresh version per call, unique within the process.
export function nextVersion(major = 1) {
    versionSeq += 1;
    return `${major}.${versionSeq}.0`;
}

// What a sanitizer said in mcd's log, the direct findings first (for the
// message of a failed exit-status check); '' when it said nothing.
export function sanitizerReport(logs) {
    const at = logs.search(/==\d+==ERROR|runtime error:/);
    if (at < 0) {
        return logs.slice(-2000);
    }
    const blocks = logs.slice(at).split(/\n\s*\n/);
    const direct = blocks.filter((b) => !/^\s*Indirect leak/.test(b));
    return direct.join('\n\n').slice(0, 6000);
}
