// Helpers for the mcctl end-to-end tests: run the real mcctl binary against
// a real mcd, and play a node's agent over the real agent protocol (stream
// and status reports) where a test must move a command along.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

const REPO_ROOT = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUILD_DIR = path.resolve(REPO_ROOT, process.env.MC_BUILD_DIR || 'build');
export const MCCTL_BIN = path.join(BUILD_DIR, 'mcctl');

const RUN_TIMEOUT_MS = 60000;

// An empty HOME, so no ~/.config/mcctl/config of whoever runs the tests
// leaks in.
const emptyHome = fs.mkdtempSync(path.join(os.tmpdir(), 'mcctl-home-'));
process.on('exit', () => fs.rmSync(emptyHome, { recursive: true,
                                                force: true }));

// Our environment without MC_* / MCCTL_* / XDG_CONFIG_HOME, then
// MC_URL/MC_TOKEN from srv (token: null leaves it unset), then opts.env
// (undefined removes a name).
function mcctlEnv(opts) {
    const env = { HOME: emptyHome };
    for (const [k, v] of Object.entries(process.env)) {
        if (!/^(MC_|MCCTL_|XDG_CONFIG_HOME$|HOME$)/.test(k)) {
            env[k] = v;
        }
    }
    if (opts.srv) {
        env.MC_URL = opts.srv.url;
    }
    const token = opts.token === undefined ? opts.srv?.token : opts.token;
    if (token) {
        env.MC_TOKEN = token;
    }
    for (const [k, v] of Object.entries(opts.env || {})) {
        if (v === undefined) {
            delete env[k];
        } else {
            env[k] = v;
        }
    }
    return env;
}

// Starts mcctl; returns {proc, done, stdout()}, done resolving to
// {code, signal, stdout, stderr}, stdout() what it printed so far.
export function spawnMcctl(args, opts = {}) {
    const proc = spawn(opts.command || MCCTL_BIN,
                       opts.command ? opts.args : args, {
        env: mcctlEnv(opts),
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (s) => { stdout += s; });
    proc.stderr.on('data', (s) => { stderr += s; });
    if (opts.input !== undefined) {
        // mcctl may exit before it reads; that is its answer, not ours.
        proc.stdin.on('error', () => {});
        proc.stdin.end(opts.input);
    }
    const timer = setTimeout(() => proc.kill('SIGKILL'),
                             opts.timeoutMs || RUN_TIMEOUT_MS);
    const done = new Promise((resolve, reject) => {
        proc.once('error', reject);
        proc.once('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr });
        });
    });
    return { proc, done, stdout: () => stdout };
}

// Runs mcctl to its end. opts: srv (MC_URL, MC_TOKEN), token, env, input.
export function mcctl(args, opts = {}) {
    return spawnMcctl(args, opts).done;
}

function what(res) {
    return `exit ${res.code}\nstdout: ${res.stdout}\nstderr: ${res.stderr}`;
}

// Asserts exit code 0 and an empty stderr; returns stdout.
export function assertOk(res) {
    assert.equal(res.code, 0, what(res));
    assert.equal(res.stderr, '', what(res));
    return res.stdout;
}

// Asserts --json output: exit code, one JSON document on stdout.
export function jsonOf(res, code = 0) {
    assert.equal(res.code, code, what(res));
    try {
        return JSON.parse(res.stdout);
    } catch (err) {
        assert.fail(`stdout is not JSON (${err.message}): ${what(res)}`);
    }
}

// Asserts a failure: exit code, and stderr exactly one line matching re,
// nothing on stdout.
export function assertFails(res, code, re) {
    assert.equal(res.code, code, what(res));
    const lines = res.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, `not one line on stderr: ${what(res)}`);
    assert.match(lines[0], re, what(res));
    assert.equal(res.stdout, '', what(res));
}

// A loopback port with nothing listening on it.
export function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

// Lines of a table, split on runs of two or more spaces.
export function tableRows(stdout) {
    return stdout.trimEnd().split('\n').map((l) => l.split(/ {2,}/));
}

// --- a node, played over the agent protocol ------------------------------

// Opens the node's SSE stream; returns {events, next(), close()}, next()
// resolving to the next command event's parsed data.
export async function openStream(srv, agentToken, query = '') {
    const ctrl = new AbortController();
    const res = await fetch(`${srv.url}/api/fleet/stream${query}`, {
        headers: { Authorization: `Bearer ${agentToken}` },
        signal: ctrl.signal,
    });
    assert.equal(res.status, 200, `stream: ${res.status}`);
    const events = [];
    const waiters = [];
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    const pump = async () => {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) {
                return;
            }
            buf += decoder.decode(value, { stream: true });
            let idx;
            while ((idx = buf.indexOf('\n\n')) >= 0) {
                const block = buf.slice(0, idx);
                buf = buf.slice(idx + 2);
                const data = block.split('\n')
                    .filter((l) => l.startsWith('data:'))
                    .map((l) => l.slice(5).trimStart()).join('\n');
                if (/^event: command$/m.test(block) && data) {
                    const ev = JSON.parse(data);
                    const w = waiters.shift();
                    if (w) {
                        w(ev);
                    } else {
                        events.push(ev);
                    }
                }
            }
        }
    };
    pump().catch(() => {});
    return {
        next: () => (events.length ? Promise.resolve(events.shift())
            : new Promise((resolve) => waiters.push(resolve))),
        close: () => ctrl.abort(),
    };
}

// Reports a command's status as its node.
export async function report(srv, agentToken, commandId, status, message) {
    const body = message === undefined ? { status } : { status, message };
    const res = await fetch(
        `${srv.url}/api/fleet/commands/${commandId}/status`, {
            method: 'POST',
            headers: {
                Authorization: `Bearer ${agentToken}`,
                'Content-Type': 'application/json',
            },
            body: JSON.stringify(body),
        });
    const text = await res.text();
    assert.equal(res.status, 200, `report ${status}: ${res.status} ${text}`);
    return JSON.parse(text).command;
}

// Waits until fn() is truthy, polling every 50 ms, up to ms.
export async function until(fn, ms = 10000, what = 'condition') {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) {
            return v;
        }
        if (Date.now() > end) {
            assert.fail(`timed out waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, 50));
    }
}
