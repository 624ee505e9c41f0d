// The fleet simulator against a real mcd: hundreds of agents register and
// hold their streams, one deploy reaches all of them and ends SUCCEEDED
// (as the admin API shows), failures and silent agents are what they say,
// and a server whose key changed gets its commands refused, never acked.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import {
    startMcd, api, assertOk, createRelease,
} from './lib/mcd.mjs';
import {
    startFleetsim, readTokens, simDir,
} from './lib/fleetsim.mjs';

const AGENTS = 300;

let srv;

before(async () => {
    srv = await startMcd({ args: ['--log-level', 'info'] });
});

after(async () => {
    if (srv) {
        await srv.stop();
    }
});

async function locationsNamed(server, prefix) {
    const res = await api(server, 'GET', '/api/admin/locations?limit=1000');
    return assertOk(res).locations.filter((l) => l.name.startsWith(prefix));
}

async function deployTo(server, version, locationIds) {
    const res = await api(server, 'POST',
        `/api/admin/releases/${version}/deploy`, { body: { locationIds } });
    assert.ok([200, 207].includes(res.status),
              `${res.status} ${res.text.slice(0, 300)}`);
    return res.json;
}

// The commands by id, fetched through the admin API, a few at a time.
async function commands(server, ids) {
    const out = [];
    for (let i = 0; i < ids.length; i += 25) {
        const batch = await Promise.all(ids.slice(i, i + 25).map(
            (id) => api(server, 'GET', `/api/admin/commands/${id}`)));
        for (const res of batch) {
            out.push(assertOk(res).command);
        }
    }
    return out;
}

function countBy(items, key) {
    const out = {};
    for (const it of items) {
        out[it[key]] = (out[it[key]] || 0) + 1;
    }
    return out;
}

test('fleetsim-deploy-all: 300 agents register, connect, and succeed',
     async () => {
    const dir = simDir();
    const tokens = path.join(dir, 'tokens.jsonl');
    const sim = startFleetsim(srv, [
        '--admin-token', srv.token, '--agents', String(AGENTS),
        '--name-prefix', 'all', '--register-out', tokens,
        '--current-version', '1.0.0', '--schema-version', '7',
        '--success-delay', '50',
    ], { dir });
    try {
        await sim.waitStats((s) => s.online === AGENTS, 'all online');

        // What an admin sees: every location online, with the versions
        // its agent reported.
        const locs = await locationsNamed(srv, 'all-');
        assert.equal(locs.length, AGENTS);
        for (const l of locs) {
            assert.ok(l.serverNode, `${l.name} has no node`);
            assert.equal(l.serverNode.online, true, `${l.name} offline`);
            assert.equal(l.serverNode.currentVersion, '1.0.0');
            assert.equal(l.serverNode.schemaVersion, 7);
        }
        const agents = readTokens(tokens);
        assert.equal(agents.length, AGENTS);
        assert.deepEqual(new Set(agents.map((a) => a.locationId)),
                         new Set(locs.map((l) => l.id)));

        await createRelease(srv, { version: '1.1.0', minSchemaVersion: 7 });
        const answer = await deployTo(srv, '1.1.0', locs.map((l) => l.id));
        assert.equal(answer.summary.succeeded, AGENTS);
        const st = await sim.waitStats((s) => s.succeeded === AGENTS,
                                       'all succeeded');
        assert.equal(st.commands, AGENTS);
        assert.equal(st.signatureFailures, 0);
        assert.equal(st.arrivalsMs.length, AGENTS);
        assert.ok(st.arrival.last >= st.arrival.median);

        const cmds = await commands(srv, answer.results.map(
            (r) => r.commandId));
        assert.deepEqual(countBy(cmds, 'status'), { SUCCEEDED: AGENTS });
        for (const l of await locationsNamed(srv, 'all-')) {
            assert.equal(l.serverNode.currentVersion, '1.1.0', l.name);
        }

        assert.equal(await sim.stop(), 0);
        assert.match(sim.stdout(), /300 succeeded, 0 failed/);
        const last = sim.stats();
        assert.equal(last.final, true);
    } finally {
        await sim.stop();
    }
});

test('fleetsim-fail-silent-offline: each share shows in the API',
     async () => {
    const n = 100;
    const sim = startFleetsim(srv, [
        '--admin-token', srv.token, '--agents', String(n),
        '--name-prefix', 'mix', '--current-version', '1.0.0',
        '--schema-version', '7', '--fail-rate', '0.3',
        '--silent-rate', '0.1', '--offline', '10', '--no-hardware', '3',
    ]);
    try {
        await sim.waitStats((s) => s.online === n - 10, 'online');
        const locs = await locationsNamed(srv, 'mix-');
        assert.equal(locs.length, n + 3);
        const bare = locs.filter((l) => !l.serverNode);
        assert.equal(bare.length, 3);
        assert.equal(locs.filter((l) => l.serverNode &&
                                 !l.serverNode.online).length, 10);

        await createRelease(srv, { version: '1.2.0' });
        const answer = await deployTo(srv, '1.2.0', locs.map((l) => l.id));
        assert.equal(answer.summary.succeeded, n);
        assert.equal(answer.summary.failed, 3);
        for (const r of answer.results.filter((x) => !x.success)) {
            assert.equal(r.error.code, 'NO_ACTIVE_SERVER');
        }
        // Agents 10, 20, ... 90 of the online 90 are silent (every tenth,
        // and the 100th is offline): 81 answer, 30 % of them fail.
        const st = await sim.waitStats(
            (s) => s.succeeded + s.failed === 81, 'final reports');
        assert.equal(st.commands, 90);
        assert.equal(st.silent, 9);
        assert.equal(st.failed, 24);

        const ok = answer.results.filter((r) => r.success);
        const cmds = await commands(srv, ok.map((r) => r.commandId));
        assert.deepEqual(countBy(cmds, 'status'), {
            SUCCEEDED: 57, FAILED: 24, DELIVERED: 9, PENDING: 10,
        });
        const byNode = new Map();
        for (const l of await locationsNamed(srv, 'mix-')) {
            if (l.serverNode) {
                byNode.set(l.serverNode.id, l.serverNode);
            }
        }
        for (const c of cmds) {
            const node = byNode.get(c.serverNodeId);
            // Offline agents never reported a version at all.
            const want = { SUCCEEDED: '1.2.0', PENDING: null };
            assert.equal(node.currentVersion,
                         c.status in want ? want[c.status] : '1.0.0',
                         `${c.status} node ${node.id}`);
            if (c.status === 'FAILED') {
                assert.match(c.message, /simulated failure/);
            }
        }
        assert.equal(await sim.stop(), 0);
    } finally {
        await sim.stop();
    }
});

test('fleetsim-bad-signature: a server with another key is refused',
     async () => {
    const other = await startMcd();
    let restarted;
    let sim;
    const dir = simDir();
    const tokens = path.join(dir, 'tokens.jsonl');
    try {
        const reg = startFleetsim(other, [
            '--admin-token', other.token, '--agents', '50',
            '--register-out', tokens, '--register-only',
        ], { dir });
        assert.equal(await reg.done(), 0, reg.logs());
        assert.equal(readTokens(tokens).length, 50);
        await other.stop();

        // Same database, new signing key: the agents still hold the old
        // public key, as a real agent would.
        restarted = await startMcd({
            dir: other.dir, token: other.token,
            args: ['--key', path.join(other.dir, 'other.key')],
        });
        sim = startFleetsim(restarted, ['--tokens-file', tokens]);
        await sim.waitStats((s) => s.online === 50, 'online');
        await createRelease(restarted, { version: '2.0.0' });
        const ids = readTokens(tokens).map((a) => a.locationId);
        const answer = await deployTo(restarted, '2.0.0', ids);
        const st = await sim.waitStats((s) => s.signatureFailures >= 50,
                                       'signature failures');
        assert.equal(st.commands, 0);
        assert.equal(st.acked, 0);
        assert.equal(st.reportsOk, 0);
        const cmds = await commands(restarted, answer.results.map(
            (r) => r.commandId));
        assert.deepEqual(countBy(cmds, 'status'), { DELIVERED: 50 });
        assert.equal(await sim.stop(), 0);
        assert.match(sim.stdout(), /50 signature failures/);
    } finally {
        if (sim) {
            await sim.stop();
        }
        if (restarted) {
            await restarted.stop();
        }
        await other.stop();
    }
});

test('fleetsim-limits: bad settings and a too small file limit', async () => {
    const bad = startFleetsim(srv, ['--fail-rate', '2', '--agents', '1',
                                    '--admin-token', 'x']);
    assert.equal(await bad.done(), 2);
    assert.match(bad.logs(), /invalid --fail-rate "2"/);

    const none = startFleetsim(srv, ['--agents', '5']);
    assert.equal(await none.done(), 2);
    assert.match(none.logs(), /needs --admin-token .* or --tokens-file/);

    const big = startFleetsim(srv, [
        '--admin-token', srv.token, '--agents', '5000',
    ], { prefix: ['prlimit', '--nofile=1024:1024'] });
    assert.equal(await big.done(), 2);
    assert.match(big.logs(), new RegExp(
        '5000 streams need about \\d+ open files, but the limit is 1024'));
    // Nothing was registered for it.
    const res = await api(srv, 'GET', '/api/admin/locations?limit=1000');
    assert.equal(assertOk(res).locations.filter(
        (l) => l.name.startsWith('sim-')).length, 0);
});
