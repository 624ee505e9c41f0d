// A stand-in for a node's agent in the browser tests: it holds the real
// command stream of mcd (GET /api/fleet/stream with the node's agent
// token), collects the commands pushed to it, and reports status the way
// mc-agent does. Nothing of the server is faked: this is a client.

import { api, assertOk } from '../../e2e/lib/mcd.mjs';

// Parses server-sent events out of a growing text buffer; returns the
// events complete so far and the unparsed rest.
function parseEvents(buf) {
    const events = [];
    let idx;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, idx);
        buf = buf.slice(idx + 2);
        const ev = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
                continue;
            }
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).trimStart();
            if (field === 'data') {
                ev.data += (ev.data ? '\n' : '') + value;
            } else if (field === 'event' || field === 'id') {
                ev[field] = value;
            }
        }
        if (ev.data) {
            events.push(ev);
        }
    }
    return { events, rest: buf };
}

// Opens the stream of the node whose agent token is given. query:
// {currentVersion, schemaVersion}. Resolves once mcd answered 200, with
// {commands, waitForCommand(), close()}.
export async function openStream(srv, token, query = {}) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
        q.set(k, String(v));
    }
    const ctl = new AbortController();
    const res = await fetch(`${srv.url}/api/fleet/stream?${q}`, {
        headers: { Authorization: `Bearer ${token}` }, signal: ctl.signal,
    });
    if (res.status !== 200) {
        throw new Error(`stream answered ${res.status}: ${await res.text()}`);
    }
    const commands = [];
    const waiters = new Set();
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let closed = false;
    const pump = (async () => {
        let buf = '';
        try {
            for (;;) {
                const { done, value } = await reader.read();
                if (done) {
                    break;
                }
                const parsed = parseEvents(buf + decoder.decode(value, {
                    stream: true,
                }));
                buf = parsed.rest;
                for (const ev of parsed.events) {
                    if (ev.event === 'command') {
                        commands.push(JSON.parse(ev.data));
                    }
                }
                waiters.forEach((w) => w());
            }
        } catch {
            // aborted by close()
        }
        closed = true;
        waiters.forEach((w) => w());
    })();

    return {
        commands,
        // Resolves with the first command pred accepts.
        waitForCommand(pred = () => true, timeoutMs = 10000) {
            return new Promise((resolve, reject) => {
                const check = () => {
                    const c = commands.find(pred);
                    if (c) {
                        done();
                        resolve(c);
                    } else if (closed) {
                        done();
                        reject(new Error('stream closed before the command'));
                    }
                };
                const timer = setTimeout(() => {
                    done();
                    reject(new Error(`no command within ${timeoutMs} ms; ` +
                                     `have ${JSON.stringify(commands)}`));
                }, timeoutMs);
                const done = () => {
                    clearTimeout(timer);
                    waiters.delete(check);
                };
                waiters.add(check);
                check();
            });
        },
        async close() {
            ctl.abort();
            await pump;
        },
    };
}

// Reports a command's status as its node.
export async function report(srv, token, commandId, status, message) {
    const body = { status };
    if (message !== undefined) {
        body.message = message;
    }
    const res = await api(srv, 'POST',
                          `/api/fleet/commands/${commandId}/status`,
                          { token, body });
    return assertOk(res).command;
}

// Creates a location, and a node in it unless withNode is false. Returns
// {location, node, token}.
export async function makeLocation(srv, name, withNode = true) {
    const loc = assertOk(await api(srv, 'POST', '/api/admin/locations', {
        body: { name, timezone: 'Europe/Berlin' },
    }), 201).location;
    if (!withNode) {
        return { location: loc, node: null, token: null };
    }
    const reg = assertOk(await api(
        srv, 'POST', `/api/admin/locations/${loc.id}/nodes`,
        { body: { name: `${name} server` } }), 201);
    return { location: loc, node: reg.serverNode, token: reg.token };
}

// Polls fn until it returns a truthy value.
export async function eventually(fn, what, timeoutMs = 10000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) {
            return v;
        }
        if (Date.now() > end) {
            throw new Error(`timed out waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, 100));
    }
}
