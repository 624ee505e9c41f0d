// `make run` (scripts/run.sh) as a user meets it: it prints the dashboard's
// address, serves a demo fleet of 25 venues (online, offline, one without
// hardware, one on an old schema) that takes a deploy to SUCCEEDED, stops
// every process it started at Ctrl-C (SIGINT), and a second run on the same
// directory reuses the data instead of registering the fleet again.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const RUN_SH = path.join(REPO_ROOT, 'scripts', 'run.sh');
const BUILD_DIR = path.resolve(REPO_ROOT,
    process.env.MC_BUILD_DIR || 'build');
const TOKEN = 'mc_demo_token_change_me_0001';
const START_TIMEOUT_MS = 60000;
const STOP_TIMEOUT_MS = 20000;

const varDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-make-run-'));
const started = new Set();

after(() => {
    // A failed test must not leave the demo running: kill its whole
    // process group (run.sh leads it: detached).
    for (const run of started) {
        for (const pid of [-run.proc.pid, ...(run.pids || [])]) {
            try {
                process.kill(pid, 'SIGKILL');
            } catch {
                // already gone
            }
        }
    }
    if (process.env.MC_KEEP_TMP) {
        process.stderr.write(`mc-e2e: kept ${varDir}\n`);
    } else {
        fs.rmSync(varDir, { recursive: true, force: true });
    }
});

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function childEnv(port) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('MC_')) {
            env[k] = v;
        }
    }
    env.MC_LISTEN = `127.0.0.1:${port}`;
    env.MC_VAR_DIR = varDir;
    env.MC_BUILD_DIR = process.env.MC_BUILD_DIR || 'build';
    return env;
}

// Starts run.sh; resolves once it printed the dashboard's address.
async function startRun() {
    const port = await freePort();
    const proc = spawn(RUN_SH, [], {
        cwd: REPO_ROOT, env: childEnv(port), detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run = { proc, out: '', exit: null };
    started.add(run);
    run.exited = new Promise((resolve) => {
        proc.once('exit', (code, signal) => {
            run.exit = code ?? signal;
            resolve(run.exit);
        });
    });
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (s) => { run.out += s; });
    proc.stderr.on('data', (s) => { run.out += s; });
    const end = Date.now() + START_TIMEOUT_MS;
    for (;;) {
        const m = /dashboard: (http:\/\/\S+)\/dashboard\//.exec(run.out);
        if (m) {
            run.url = m[1];
            break;
        }
        if (run.exit !== null || Date.now() > end) {
            throw new Error(`run.sh printed no address (exit ${run.exit})` +
                            `:\n${run.out}`);
        }
        await sleep(100);
    }
    assert.equal(run.url, `http://127.0.0.1:${port}`);
    // mcd and the simulator run in their own sessions; run.sh lists them.
    run.pids = fs.readFileSync(path.join(varDir, 'run.pids'), 'utf8')
        .trim().split(/\s+/).map(Number);
    assert.equal(run.pids.length, 2);
    assert.ok(run.pids.every(alive), `not running: ${run.pids}`);
    assert.match(run.out, /admin@example\.com \/ mission-control/);
    assert.match(run.out, new RegExp(TOKEN));
    return run;
}

function alive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

// SIGINT to run.sh, as Ctrl-C would; then nothing of its process group
// may be left, and the port is closed.
async function interrupt(run) {
    const pgid = run.proc.pid;
    process.kill(pgid, 'SIGINT');
    let timer;
    const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
    });
    const how = await Promise.race([run.exited, timeout]);
    clearTimeout(timer);
    assert.notEqual(how, 'timeout', `run.sh still running:\n${run.out}`);
    assert.equal(run.exit, 0, run.out);
    assert.match(run.out, /run: stopped/);
    assert.equal(alive(-pgid), false, 'processes of run.sh are left over');
    assert.deepEqual(run.pids.filter(alive), [], 'mcd or mc-fleetsim left');
    assert.equal(fs.existsSync(path.join(varDir, 'run.pids')), false);
    started.delete(run);
    await assert.rejects(fetch(`${run.url}/healthz`),
                         'mcd still answers after Ctrl-C');
}

async function get(run, pathname) {
    const res = await fetch(run.url + pathname, {
        headers: { Authorization: `Bearer ${TOKEN}` },
    });
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    return json;
}

async function post(run, pathname, body) {
    const res = await fetch(run.url + pathname, {
        method: 'POST',
        headers: {
            Authorization: `Bearer ${TOKEN}`,
            'Content-Type': 'application/json',
        },
        body: JSON.stringify(body),
    });
    return { status: res.status, json: await res.json() };
}

async function locations(run) {
    return (await get(run, '/api/admin/locations?limit=1000')).locations;
}

// The demo fleet's mix, as the API shows it.
function assertFleet(locs) {
    assert.equal(locs.length, 25, locs.map((l) => l.name).join(' '));
    const names = locs.map((l) => l.name);
    assert.equal(new Set(names).size, names.length, 'duplicate names');
    assert.equal(new Set(locs.map((l) => l.organizationId)).size, 1);
    const noHw = locs.filter((l) => l.serverNode === null);
    const online = locs.filter((l) => l.serverNode?.online === true);
    const offline = locs.filter((l) => l.serverNode?.online === false);
    assert.equal(noHw.length, 1);
    assert.equal(online.length, 21);
    assert.equal(offline.length, 3);
    for (const l of online) {
        assert.equal(l.serverNode.currentVersion, '1.0.0', l.name);
    }
    const old = online.filter((l) => l.serverNode.schemaVersion === 41);
    assert.deepEqual(old.map((l) => l.name), ['venue-00017']);
    assert.equal(online.filter((l) => l.serverNode.schemaVersion === 42)
        .length, 20);
    return { online, offline, noHw, old };
}

async function waitCommands(run, ids, status, timeoutMs = 30000) {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const got = await Promise.all(ids.map(
            (id) => get(run, `/api/admin/commands/${id}`)));
        const states = got.map((g) => g.command.status);
        if (states.every((s) => s === status)) {
            return;
        }
        assert.ok(Date.now() < end, `not all ${status}: ${states}`);
        await sleep(250);
    }
}

let firstIds;

test('make-run-first: the demo fleet is there and takes a deploy',
     async () => {
    const run = await startRun();
    try {
        assert.match(run.out, /first run/);
        const locs = await locations(run);
        const fleet = assertFleet(locs);
        firstIds = locs.map((l) => l.id).sort();

        const rels = (await get(run, '/api/admin/releases')).releases;
        const byVersion = Object.fromEntries(rels.map((r) => [r.version, r]));
        assert.ok(byVersion['1.0.0'] && byVersion['1.1.0']);
        assert.equal(byVersion['1.1.0'].isLatest, true);
        assert.equal(byVersion['1.2.0-beta.1'].channel, 'BETA');
        assert.equal(byVersion['1.2.0-beta.1'].minSchemaVersion, 42);

        // The schema gate and the venue without hardware refuse the beta.
        const gated = await post(run,
            '/api/admin/releases/1.2.0-beta.1/deploy',
            { locationIds: [fleet.old[0].id, fleet.noHw[0].id] });
        assert.equal(gated.status, 422, JSON.stringify(gated.json));
        assert.deepEqual(gated.json.results.map((r) => r.error.code).sort(),
                         ['NO_ACTIVE_SERVER', 'SCHEMA_TOO_OLD']);

        // 1.1.0 to every online venue: all end SUCCEEDED, running 1.1.0.
        const dep = await post(run, '/api/admin/releases/1.1.0/deploy',
            { locationIds: fleet.online.map((l) => l.id) });
        assert.equal(dep.status, 200, JSON.stringify(dep.json));
        assert.equal(dep.json.summary.succeeded, 21);
        await waitCommands(run,
            dep.json.results.map((r) => r.commandId), 'SUCCEEDED');
        const after1 = await locations(run);
        const running = after1.filter((l) => l.serverNode?.online)
            .map((l) => l.serverNode.currentVersion);
        assert.deepEqual([...new Set(running)], ['1.1.0']);
    } finally {
        await interrupt(run);
    }
});

test('make-run-second: a second run reuses the data', async () => {
    assert.ok(firstIds, 'the first run did not get far');
    const run = await startRun();
    try {
        assert.doesNotMatch(run.out, /first run/);
        const locs = await locations(run);
        assertFleet(locs);
        assert.deepEqual(locs.map((l) => l.id).sort(), firstIds);
        const rels = (await get(run, '/api/admin/releases')).releases;
        assert.deepEqual(rels.map((r) => r.version).sort(),
                         ['1.0.0', '1.1.0', '1.2.0-beta.1']);
        readmeMcctl(run);
    } finally {
        await interrupt(run);
    }
});

// The README's mcctl session, line by line, against the demo as written
// (only the address and the build directory change).
function readmeMcctl(run) {
    const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
    const block = readme.split('## Publish and deploy with mcctl')[1]
        .match(/```sh\n([\s\S]*?)```/)[1];
    const lines = block.split('\n').filter((l) => l.startsWith('build/mcctl'));
    assert.equal(lines.length, 4);
    const env = { ...process.env, MC_URL: run.url, MC_TOKEN: TOKEN };
    const out = lines.map((line) => {
        const cmd = line.replace(/#.*$/, '').trim()
            .replace(/^build\//, `${BUILD_DIR}/`);
        const res = spawnSync('bash', ['-c', cmd], { env, encoding: 'utf8' });
        return { status: res.status, text: res.stdout + res.stderr };
    });
    assert.equal(out[0].status, 0, out[0].text);
    assert.match(out[0].text, /created release 1\.3\.0/);
    // Partly succeeded: the venue without hardware has no node.
    assert.equal(out[1].status, 3, out[1].text);
    assert.match(out[1].text, /venue-00025-no-hardware +NO_ACTIVE_SERVER/);
    assert.equal((out[1].text.match(/ deployed /g) || []).length, 24);
    assert.equal(out[2].status, 0, out[2].text);
    assert.match(out[2].text, /Deploys: +24/);
    assert.equal(out[3].status, 0, out[3].text);
    assert.match(out[3].text, /venue-00001/);
}
