// End-to-end harness: starts the real `mcd` on a free port with a fresh
// data directory, and gives the tests a small HTTP client and helpers to
// make organizations, users and API tokens through the public API.
//
// MC_BUILD_DIR  where mcd lives (default "build", relative to the repo root)
// MC_KEEP_TMP   keep the data directories (their paths are printed)

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { startPostgres } from './pg.mjs';

const REPO_ROOT = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUILD_DIR = path.resolve(REPO_ROOT, process.env.MC_BUILD_DIR || 'build');
export const MCD_BIN = path.join(BUILD_DIR, 'mcd');

const READY_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 10000;
const LISTENING_RE = /msg="listening" addr=([0-9.]+):(\d+)/;

export const ID_RE = /^[a-z0-9]{25}$/;
export const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

// MC_TEST_DB=postgres: one real PostgreSQL per test process (per test
// file), a fresh database for each new data directory. The URL is kept in
// the directory, so a restart on opts.dir finds the same database.
const TEST_DB = process.env.MC_TEST_DB || 'sqlite';
let sharedPostgres = null;
let databaseSeq = 0;

async function databaseFor(dir) {
    if (TEST_DB !== 'postgres') {
        return path.join(dir, 'mc.db');
    }
    const saved = path.join(dir, 'pg-url');
    if (fs.existsSync(saved)) {
        return fs.readFileSync(saved, 'utf8');
    }
    sharedPostgres ??= startPostgres();
    const pg = await sharedPostgres;
    databaseSeq += 1;
    const url = await pg.createDatabase(`mc_e2e_${databaseSeq}`);
    fs.writeFileSync(saved, url);
    return url;
}

const running = new Set();
const tmpDirs = new Set();

process.on('exit', () => {
    for (const srv of running) {
        try {
            srv.proc.kill('SIGKILL');
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

export function randomSecret(len = 32) {
    const alphabet =
        'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
    const bytes = crypto.randomBytes(len);
    let out = '';
    for (const b of bytes) {
        out += alphabet[b % alphabet.length];
    }
    return out;
}

// The child's environment: ours without any MC_* setting, then the
// bootstrap secrets, then opts.env (a value of undefined removes a name).
function childEnv(token, password, email, extra) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('MC_')) {
            env[k] = v;
        }
    }
    env.MC_BOOTSTRAP_TOKEN = token;
    env.MC_BOOTSTRAP_PASSWORD = password;
    if (email !== 'admin@example.com') {
        env.MC_BOOTSTRAP_EMAIL = email;
    }
    for (const [k, v] of Object.entries(extra || {})) {
        if (v === undefined) {
            delete env[k];
        } else {
            env[k] = v;
        }
    }
    return env;
}

function waitForExit(proc) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.resolve();
    }
    // The child is unref'd so a forgotten server never holds the test
    // process open; while something waits for it, it must hold the loop.
    proc.ref();
    return new Promise((resolve) => proc.once('exit', resolve));
}

function exitStatus(proc) {
    return proc.exitCode !== null ? proc.exitCode : proc.signalCode;
}

// Resolves with the port once mcd logs that it listens; rejects with the
// collected stderr when it exits first or stays silent too long.
function waitForListening(proc, output) {
    return new Promise((resolve, reject) => {
        let done = false;
        const finish = (err, port) => {
            if (done) {
                return;
            }
            done = true;
            clearTimeout(timer);
            proc.stderr.off('data', onData);
            proc.off('exit', onExit);
            if (err) {
                reject(err);
            } else {
                resolve(port);
            }
        };
        const onData = () => {
            const m = LISTENING_RE.exec(output.stderr);
            if (m) {
                finish(null, Number(m[2]));
            }
        };
        const onExit = (code, signal) => {
            finish(new Error(`mcd exited (${code ?? signal}) before ` +
                             `listening; stderr:\n${output.stderr}`));
        };
        const timer = setTimeout(() => {
            finish(new Error(`mcd did not log "listening" within ` +
                             `${READY_TIMEOUT_MS} ms; stderr:\n` +
                             output.stderr));
        }, READY_TIMEOUT_MS);
        proc.stderr.on('data', onData);
        proc.on('exit', onExit);
        onData();
    });
}

// Starts mcd. opts: dir (reuse a data directory), args (more flags),
// env (more environment), token, password, email (bootstrap settings).
export async function startMcd(opts = {}) {
    if (!fs.existsSync(MCD_BIN)) {
        throw new Error(`${MCD_BIN} does not exist; build it first`);
    }
    let dir = opts.dir;
    if (!dir) {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-e2e-'));
        tmpDirs.add(dir);
    }
    const token = opts.token || randomSecret(32);
    const password = opts.password || randomSecret(20);
    const email = opts.email || 'admin@example.com';
    const args = [
        '--listen', '127.0.0.1:0',
        '--db', await databaseFor(dir),
        '--key', path.join(dir, 'server.key'),
        '--log-level', 'debug',
        ...(opts.args || []),
    ];
    const proc = spawn(MCD_BIN, args, {
        cwd: dir,
        env: childEnv(token, password, email, opts.env),
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (s) => { output.stdout += s; });
    proc.stderr.on('data', (s) => { output.stderr += s; });
    // A server a test forgot to stop must not keep the test process
    // alive; the 'exit' handler kills it.
    proc.unref();
    proc.stdout.unref();
    proc.stderr.unref();

    const srv = {
        url: null, port: null, dir, token, password, email, proc,
        history: [],
        logs: () => output.stderr,
        stdout: () => output.stdout,
        stop: () => stopMcd(srv),
        kill: () => {
            proc.kill('SIGKILL');
            return waitForExit(proc).then(() => exitStatus(proc));
        },
    };
    running.add(srv);
    proc.once('exit', () => running.delete(srv));
    proc.once('error', (err) => {
        output.stderr += `\nspawn error: ${err.message}\n`;
    });

    try {
        srv.port = await waitForListening(proc, output);
    } catch (err) {
        proc.kill('SIGKILL');
        await waitForExit(proc);
        throw err;
    }
    srv.url = `http://127.0.0.1:${srv.port}`;
    return srv;
}

// SIGTERM, then SIGKILL after STOP_TIMEOUT_MS. Resolves to the exit code,
// or to the signal name when a signal ended the process.
async function stopMcd(srv) {
    const { proc } = srv;
    if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await waitForExit(proc);
        clearTimeout(timer);
    }
    return exitStatus(proc);
}

function record(srv, method, pathname, status, headers) {
    srv.history.push({
        method, path: pathname, status,
        requestId: headers.get('x-request-id'),
    });
}

function hasHeader(headers, name) {
    return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

// A small client. opts: token (default srv.token unless a cookie is given;
// null for none), body (sent as JSON), rawBody (sent as is, JSON content
// type unless headers say otherwise), headers, cookie, csrf.
export async function api(srv, method, pathname, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    let token = opts.token;
    if (token === undefined) {
        token = opts.cookie ? null : srv.token;
    }
    if (token) {
        headers.Authorization = `Bearer ${token}`;
    }
    if (opts.cookie) {
        headers.Cookie = opts.cookie;
    }
    if (opts.csrf) {
        headers['X-CSRF-Token'] = opts.csrf;
    }
    let body;
    if (opts.rawBody !== undefined) {
        body = opts.rawBody;
    } else if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
    }
    if (body !== undefined && !hasHeader(headers, 'content-type')) {
        headers['Content-Type'] = 'application/json';
    }
    const res = await fetch(srv.url + pathname, {
        method, headers, body, redirect: 'manual',
    });
    const text = await res.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch {
        json = null;
    }
    record(srv, method, pathname, res.status, res.headers);
    return { status: res.status, headers: res.headers, json, text };
}

// A request through node:http, for what fetch will not send (no
// Content-Type with a body) or may not survive (a server answering before
// it read a large body). opts: token, headers, body, chunked (send the
// body without Content-Length). Resolves like api().
export function rawRequest(srv, method, pathname, opts = {}) {
    const headers = { ...(opts.headers || {}) };
    if (opts.token !== null) {
        headers.Authorization = `Bearer ${opts.token || srv.token}`;
    }
    const body = opts.body === undefined ? null : Buffer.from(opts.body);
    if (body && !opts.chunked) {
        headers['Content-Length'] = String(body.length);
    }
    return new Promise((resolve, reject) => {
        let answered = false;
        const req = http.request(srv.url + pathname, {
            method, headers, agent: false,
        }, (res) => {
            answered = true;
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                const h = new Headers();
                for (const [k, v] of Object.entries(res.headers)) {
                    h.set(k, Array.isArray(v) ? v.join(', ') : v);
                }
                let json = null;
                try {
                    json = JSON.parse(text);
                } catch {
                    json = null;
                }
                record(srv, method, pathname, res.statusCode, h);
                resolve({ status: res.statusCode, headers: h, json, text });
            });
        });
        req.on('error', (err) => {
            // Writing the rest of a body the server refused fails once it
            // closed the connection; its answer is what counts.
            if (!answered) {
                reject(err);
            }
        });
        if (body) {
            writeInChunks(req, body);
        } else {
            req.end();
        }
    });
}

function writeInChunks(req, body) {
    const size = 64 * 1024;
    let off = 0;
    const pump = () => {
        while (off < body.length && !req.destroyed) {
            const chunk = body.subarray(off, off + size);
            off += chunk.length;
            if (!req.write(chunk)) {
                req.once('drain', pump);
                return;
            }
        }
        if (!req.destroyed) {
            req.end();
        }
    };
    pump();
}

// Asserts an error answer: status, code, field (when given), the shape.
export function assertError(res, status, code, field) {
    const what = `${res.status} ${res.text.slice(0, 300)}`;
    assert.equal(res.status, status, what);
    assert.match(res.headers.get('content-type') || '', /^application\/json/,
                 `error not JSON: ${what}`);
    assert.ok(res.json && res.json.error, `no error object: ${what}`);
    const err = res.json.error;
    if (code !== undefined) {
        assert.equal(err.code, code, what);
    }
    assert.match(err.code, /^[A-Z][A-Z0-9_]*$/, what);
    assert.equal(typeof err.message, 'string', what);
    assert.ok(err.message.length > 0, what);
    if (field !== undefined) {
        assert.equal(err.field, field, what);
    }
}

// Asserts a success answer and returns its JSON.
export function assertOk(res, status = 200) {
    assert.equal(res.status, status, `${res.status} ${res.text.slice(0, 500)}`);
    assert.ok(res.json, `not JSON: ${res.text.slice(0, 200)}`);
    return res.json;
}

// Every answer mcd gave carried an X-Request-Id, all different.
export function assertRequestIds(...servers) {
    const missing = [];
    const seen = new Map();
    for (const srv of servers) {
        for (const h of srv.history) {
            const what = `${h.method} ${h.path} -> ${h.status}`;
            if (!h.requestId) {
                missing.push(what);
            } else if (seen.has(h.requestId)) {
                missing.push(`${what} reuses ${h.requestId} of ` +
                             seen.get(h.requestId));
            } else {
                seen.set(h.requestId, what);
            }
        }
    }
    assert.ok(servers.some((s) => s.history.length > 0), 'no requests made');
    assert.deepEqual(missing, [], 'answers without a fresh X-Request-Id');
}

// --- sessions, organizations, users, tokens -------------------------------

let userSeq = 0;

export function uniqueEmail(prefix = 'user') {
    userSeq += 1;
    return `${prefix}-${userSeq}-${randomSecret(6).toLowerCase()}@example.com`;
}

export function sessionCookie(res) {
    for (const line of res.headers.getSetCookie()) {
        if (line.startsWith('mc_session=')) {
            return line;
        }
    }
    return null;
}

// Signs in; returns {cookie ("mc_session=..."), setCookie (the whole
// header), csrfToken, user, organization}.
export async function login(srv, email, password) {
    const res = await api(srv, 'POST', '/api/auth/login', {
        token: null, body: { email, password },
    });
    const json = assertOk(res);
    const setCookie = sessionCookie(res);
    assert.ok(setCookie, `no mc_session cookie: ${res.headers.getSetCookie()}`);
    return {
        cookie: setCookie.split(';')[0],
        setCookie,
        csrfToken: json.csrfToken,
        user: json.user,
        organization: json.organization,
    };
}

export async function createOrganization(srv, fields = {}, token) {
    const body = { name: fields.name || `Org ${randomSecret(6)}` };
    if (fields.externalId !== undefined) {
        body.externalId = fields.externalId;
    }
    const res = await api(srv, 'POST', '/api/admin/organizations', {
        token, body,
    });
    return assertOk(res, 201).organization;
}

// Creates a user; returns the user with its `password`.
export async function createUser(srv, fields = {}, token) {
    const body = {
        email: fields.email || uniqueEmail(fields.role || 'user'),
        name: fields.name || 'Test User',
        role: fields.role || 'org_member',
        password: fields.password || randomSecret(16),
    };
    if (fields.organizationId !== undefined) {
        body.organizationId = fields.organizationId;
    }
    const res = await api(srv, 'POST', '/api/admin/users', { token, body });
    const json = assertOk(res, 201);
    return { ...json.user, password: body.password };
}

// Creates an API token for the signed-in session; returns {token, apiToken}.
export async function createToken(srv, session, name = 'e2e') {
    const res = await api(srv, 'POST', '/api/admin/tokens', {
        cookie: session.cookie, csrf: session.csrfToken, body: { name },
    });
    return assertOk(res, 201);
}

// A user with a role, signed in, with an API token:
// {user, password, session, token}.
export async function makeUser(srv, fields = {}, creatorToken) {
    const user = await createUser(srv, fields, creatorToken);
    const session = await login(srv, user.email, user.password);
    const { token } = await createToken(srv, session);
    const { password, ...shown } = user;
    return { user: shown, password, session, token };
}

export async function me(srv, token) {
    return assertOk(await api(srv, 'GET', '/api/auth/me', { token }));
}

// --- releases -------------------------------------------------------------

// A Docker tag for a version ("+" is not allowed in tags).
export function tagFor(version) {
    return String(version).replace(/\+/g, '_');
}

export async function createRelease(srv, fields = {}, token) {
    const body = { imageTag: tagFor(fields.version), ...fields };
    const res = await api(srv, 'POST', '/api/admin/releases', { token, body });
    return assertOk(res, 201).release;
}

export async function listReleases(srv, query = '', token) {
    const res = await api(srv, 'GET', `/api/admin/releases${query}`, {
        token,
    });
    return assertOk(res).releases;
}

export async function getRelease(srv, idOrVersion, token) {
    const ref = encodeURIComponent(idOrVersion);
    const res = await api(srv, 'GET', `/api/admin/releases/${ref}`, { token });
    return assertOk(res);
}
