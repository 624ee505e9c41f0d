// End-to-end helpers for the sync agent: start the real `mc-agent` against
// a real `mcd` (see mcd.mjs), register nodes, deploy, and wait for the
// outcome through the admin API.
//
// MC_BUILD_DIR  where mc-agent lives (default "build", relative to the repo)

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { api, assertOk, createRelease } from './mcd.mjs';

const REPO_ROOT = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUILD_DIR = path.resolve(REPO_ROOT, process.env.MC_BUILD_DIR || 'build');
export const AGENT_BIN = path.join(BUILD_DIR, 'mc-agent');

const STOP_TIMEOUT_MS = 10000;

const running = new Set();
const tmpDirs = new Set();

process.on('exit', () => {
    for (const agent of running) {
        try {
            agent.proc.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
    for (const dir of tmpDirs) {
        if (process.env.MC_KEEP_TMP) {
            process.stderr.write(`mc-e2e: kept ${dir}\n`);
            continue;
        }
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

export function tempDir(prefix = 'mc-agent-e2e-') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    tmpDirs.add(dir);
    return dir;
}

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls fn until it returns a truthy value; throws with what() after
// timeoutMs.
export async function waitFor(fn, what, timeoutMs = 15000, everyMs = 100) {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) {
            return v;
        }
        if (Date.now() > end) {
            throw new Error(`timed out waiting for ${
                typeof what === 'function' ? what() : what}`);
        }
        await sleep(everyMs);
    }
}

function waitForExit(proc) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.resolve();
    }
    // Unreferenced so a forgotten agent cannot keep the tests alive, but
    // a test waiting for this exit must keep the event loop running.
    proc.ref();
    return new Promise((resolve) => proc.once('exit', resolve));
}

// An ed25519 public key that is not the server's, in the agent's format.
export function foreignPublicKey() {
    const { publicKey } = crypto.generateKeyPairSync('ed25519');
    const jwk = publicKey.export({ format: 'jwk' });
    return Buffer.from(jwk.x, 'base64url').toString('base64');
}

// Starts mc-agent. opts: srv (its mcd), node (from registerNode), stateDir
// (default: a new temp dir), driver ('exec'), execCommand, serverKey
// (default the node's), args (more flags), env (more environment).
export function startAgent(opts) {
    if (!fs.existsSync(AGENT_BIN)) {
        throw new Error(`${AGENT_BIN} does not exist; build it first`);
    }
    const stateDir = opts.stateDir || tempDir();
    const args = [
        '--server', opts.srv.url,
        '--state-dir', stateDir,
        '--driver', opts.driver || 'exec',
        '--log-level', 'debug',
        '--backoff-max', '2',
        ...(opts.execCommand ? ['--exec-command', opts.execCommand] : []),
        ...(opts.args || []),
    ];
    // Secrets go through the environment, as a service would pass them.
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('MC_')) {
            env[k] = v;
        }
    }
    env.MC_AGENT_TOKEN = opts.node.token;
    env.MC_AGENT_SERVER_KEY = opts.serverKey || opts.node.serverPublicKey;
    env.MC_AGENT_CONFIG = '/dev/null';
    Object.assign(env, opts.env || {});
    const proc = spawn(AGENT_BIN, args, {
        env, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.setEncoding('utf8');
    proc.stdout.resume();
    proc.stderr.on('data', (s) => { stderr += s; });
    proc.unref();
    proc.stdout.unref();
    proc.stderr.unref();
    const agent = {
        proc, stateDir,
        logs: () => stderr,
        // Resolves with the first log match of re at or after offset.
        waitForLog: (re, timeoutMs = 15000, offset = 0) => waitFor(
            () => re.exec(stderr.slice(offset)),
            () => `agent log ${re}; log:\n${stderr}`, timeoutMs),
        count: (re) => (stderr.match(new RegExp(re, 'g')) || []).length,
        exited: () => proc.exitCode !== null || proc.signalCode !== null,
        stop: async () => {
            if (!agent.exited()) {
                proc.kill('SIGTERM');
                const t = setTimeout(() => proc.kill('SIGKILL'),
                                     STOP_TIMEOUT_MS);
                await waitForExit(proc);
                clearTimeout(t);
            }
            return proc.exitCode ?? proc.signalCode;
        },
        kill: async () => {
            proc.kill('SIGKILL');
            await waitForExit(proc);
        },
        state: () => JSON.parse(
            fs.readFileSync(path.join(stateDir, 'state.json'), 'utf8')),
    };
    running.add(agent);
    proc.once('exit', () => running.delete(agent));
    return agent;
}

// Runs mc-agent to its exit (for bad settings); {code, stdout, stderr}.
export function runAgent(args, env = {}) {
    return new Promise((resolve) => {
        const proc = spawn(AGENT_BIN, args, {
            env: { PATH: process.env.PATH, MC_AGENT_CONFIG: '/dev/null',
                   ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        proc.stdout.on('data', (s) => { stdout += s; });
        proc.stderr.on('data', (s) => { stderr += s; });
        proc.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
}

// A location with a registered node: {location, node, token,
// serverPublicKey}.
export async function registerNode(srv, name = 'Venue') {
    const loc = assertOk(await api(srv, 'POST', '/api/admin/locations', {
        body: { name: `${name} ${crypto.randomUUID().slice(0, 8)}`,
                timezone: 'UTC' },
    }), 201).location;
    const res = assertOk(await api(
        srv, 'POST', `/api/admin/locations/${loc.id}/nodes`,
        { body: { name: `${name} node` } }), 201);
    assert.ok(res.token, 'node registration answers a token');
    assert.ok(res.serverPublicKey, 'and the server public key');
    return {
        location: loc, node: res.serverNode, token: res.token,
        serverPublicKey: res.serverPublicKey,
    };
}

export async function nodeOf(srv, locationId) {
    const list = assertOk(await api(srv, 'GET',
                                    '/api/admin/locations?limit=1000'));
    const loc = list.locations.find((l) => l.id === locationId);
    assert.ok(loc, `location ${locationId} listed`);
    return loc.serverNode;
}

export async function commandOf(srv, id) {
    return assertOk(await api(srv, 'GET', `/api/admin/commands/${id}`))
        .command;
}

// Deploys version (made when missing) to one location; the command id.
export async function deploy(srv, version, locationId) {
    let res = await api(srv, 'GET', `/api/admin/releases/${version}`);
    if (res.status === 404) {
        await createRelease(srv, { version });
    }
    res = await api(srv, 'POST', `/api/admin/releases/${version}/deploy`, {
        body: { locationIds: [locationId] },
    });
    const json = assertOk(res);
    assert.equal(json.results[0].success, true, res.text);
    return json.results[0].commandId;
}

const FINAL = new Set(['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'EXPIRED',
                       'CANCELLED', 'SUPERSEDED']);

// Waits until the command reaches a final status; returns it.
export async function waitForFinal(srv, id, timeoutMs = 20000) {
    let last;
    return waitFor(async () => {
        last = await commandOf(srv, id);
        return FINAL.has(last.status) ? last : null;
    }, () => `command ${id} to finish (now ${last && last.status})`,
    timeoutMs, 100);
}

// Awaits p while keeping the event loop alive: mcd.mjs's stop() and kill()
// wait for an unreferenced process, and a test whose only pending work is
// that wait would otherwise be cancelled.
export async function held(p) {
    const timer = setInterval(() => {}, 1000);
    try {
        return await p;
    } finally {
        clearInterval(timer);
    }
}
