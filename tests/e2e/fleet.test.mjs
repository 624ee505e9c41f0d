// The command lifecycle as the agent drives it: every allowed move, every
// illegal one (409, nothing changed), same-status repeats, unknown
// statuses, other nodes' commands, what SUCCEEDED and FAILED do to the
// node, and bad report bodies.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
    startMcd, api, assertError, assertOk, createRelease, rawRequest, TIME_RE,
} from './lib/mcd.mjs';
import {
    openStream, newSite, deploy, getCommand, report, findLocation,
    nextVersion,
    sanitizerReport,
} from './lib/sse.mjs';

const AGENT_STATUSES = ['ACKNOWLEDGED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED'];
const ALLOWED = new Set([
    'DELIVERED>ACKNOWLEDGED', 'ACKNOWLEDGED>IN_PROGRESS',
    'IN_PROGRESS>SUCCEEDED', 'IN_PROGRESS>FAILED',
]);
// How to bring a delivered command to a state, by reports.
const PATH = {
    DELIVERED: [],
    ACKNOWLEDGED: ['ACKNOWLEDGED'],
    IN_PROGRESS: ['ACKNOWLEDGED', 'IN_PROGRESS'],
    SUCCEEDED: ['ACKNOWLEDGED', 'IN_PROGRESS', 'SUCCEEDED'],
    FAILED: ['ACKNOWLEDGED', 'IN_PROGRESS', 'FAILED'],
};

let srv;

before(async () => {
    srv = await startMcd({ args: ['--keepalive', '1'] });
});

after(async () => {
    if (srv) {
        // Non-zero when the sanitizers found something at exit.
        assert.equal(await srv.stop(), 0, sanitizerReport(srv.logs()));
    }
});

async function release() {
    return createRelease(srv, { version: nextVersion(3) });
}

async function deployOne(rel, site) {
    const res = await deploy(srv, rel.id, [site.location.id]);
    return assertOk(res).results[0].commandId;
}

// Connects the node's stream until the command arrived, then leaves.
async function receive(site, id) {
    const st = await openStream(srv, { token: site.agentToken });
    try {
        await st.waitForCommand(id, 3000);
    } finally {
        await st.close();
    }
}

async function command(id) {
    return assertOk(await getCommand(srv, id)).command;
}

// A site with a command brought to `state`: {site, id, rel}.
async function commandIn(state) {
    const site = await newSite(srv);
    const rel = await release();
    const id = await deployOne(rel, site);
    if (state === 'SUPERSEDED') {
        await deployOne(rel, site);
    } else if (state === 'CANCELLED') {
        assertOk(await api(srv, 'POST', `/api/admin/commands/${id}/cancel`));
    } else if (state !== 'PENDING') {
        await receive(site, id);
        for (const s of PATH[state]) {
            assertOk(await report(srv, site.agentToken, id, s));
        }
    }
    assert.equal((await command(id)).status, state);
    return { site, id, rel };
}

test('the allowed moves, with their timestamps and messages', async () => {
    const site = await newSite(srv);
    const rel = await release();
    const id = await deployOne(rel, site);
    await receive(site, id);
    let c = await command(id);
    assert.equal(c.status, 'DELIVERED');
    assert.match(c.deliveredAt, TIME_RE);

    let res = await report(srv, site.agentToken, id, 'ACKNOWLEDGED');
    c = assertOk(res).command;
    assert.equal(c.id, id);
    assert.equal(c.status, 'ACKNOWLEDGED');
    assert.match(c.acknowledgedAt, TIME_RE);
    assert.equal(c.startedAt, null);

    res = await report(srv, site.agentToken, id, 'IN_PROGRESS',
                       'pulling image');
    c = assertOk(res).command;
    assert.equal(c.status, 'IN_PROGRESS');
    assert.match(c.startedAt, TIME_RE);
    assert.equal(c.message, 'pulling image');
    assert.equal(c.finishedAt, null);

    res = await report(srv, site.agentToken, id, 'SUCCEEDED', 'healthy');
    c = assertOk(res).command;
    assert.equal(c.status, 'SUCCEEDED');
    assert.match(c.finishedAt, TIME_RE);
    assert.equal(c.message, 'healthy');
    assert.deepEqual(await command(id), c);
    for (const k of ['deliveredAt', 'acknowledgedAt', 'startedAt']) {
        assert.ok(c[k] <= c.finishedAt, k);
    }
});

test('SUCCEEDED sets currentVersion; FAILED leaves it; redeploy after FAILED',
     async () => {
         const site = await newSite(srv);
         const good = await release();
         const bad = await release();
         const id1 = await deployOne(good, site);
         await receive(site, id1);
         for (const s of PATH.SUCCEEDED) {
             assertOk(await report(srv, site.agentToken, id1, s));
         }
         let loc = await findLocation(srv, site.location.id);
         assert.equal(loc.serverNode.currentVersion, good.version);
         assert.equal(loc.serverNode.targetVersion, good.version);

         const id2 = await deployOne(bad, site);
         loc = await findLocation(srv, site.location.id);
         assert.equal(loc.serverNode.targetVersion, bad.version);
         await receive(site, id2);
         for (const s of ['ACKNOWLEDGED', 'IN_PROGRESS']) {
             assertOk(await report(srv, site.agentToken, id2, s));
         }
         const failed = assertOk(await report(
             srv, site.agentToken, id2, 'FAILED',
             'container unhealthy; rolled back')).command;
         assert.equal(failed.status, 'FAILED');
         assert.equal(failed.message, 'container unhealthy; rolled back');
         loc = await findLocation(srv, site.location.id);
         assert.equal(loc.serverNode.currentVersion, good.version,
                      'a rolled-back node keeps its version');

         // The same release can go out again, and succeed this time.
         const id3 = await deployOne(bad, site);
         assert.notEqual(id3, id2);
         assert.equal((await command(id2)).status, 'FAILED',
                      'a finished command is not superseded');
         await receive(site, id3);
         for (const s of PATH.SUCCEEDED) {
             assertOk(await report(srv, site.agentToken, id3, s));
         }
         loc = await findLocation(srv, site.location.id);
         assert.equal(loc.serverNode.currentVersion, bad.version);
     });

test('every illegal move is 409 INVALID_TRANSITION and changes nothing',
     async () => {
         const states = ['PENDING', 'DELIVERED', 'ACKNOWLEDGED',
                         'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'SUPERSEDED',
                         'CANCELLED'];
         const table = [];
         for (const state of states) {
             const { site, id } = await commandIn(state);
             for (const to of AGENT_STATUSES) {
                 if (ALLOWED.has(`${state}>${to}`)) {
                     continue;
                 }
                 const before0 = await command(id);
                 const loc0 = await findLocation(srv, site.location.id);
                 const res = await report(srv, site.agentToken, id, to,
                                          'should not stick');
                 const after0 = await command(id);
                 const loc1 = await findLocation(srv, site.location.id);
                 const want = state === to ? 200 : 409;
                 table.push(`${state} -> ${to}: ${res.status}`);
                 if (want === 200) {
                     assert.equal(res.status, 200, `${state} -> ${to}`);
                     assert.deepEqual(res.json.command, before0);
                 } else {
                     assertError(res, 409, 'INVALID_TRANSITION');
                 }
                 assert.deepEqual(after0, before0, `${state} -> ${to}`);
                 assert.deepEqual(loc1, loc0, `${state} -> ${to} (node)`);
             }
         }
         // 8 states x 4 statuses, less the 4 allowed moves.
         assert.equal(table.length, 28, table.join('\n'));
     });

test('unknown statuses are 400; other nodes\' commands 404', async () => {
    const { site, id } = await commandIn('DELIVERED');
    const before0 = await command(id);
    for (const status of ['PENDING', 'DONE', 42, null, 'acknowledged',
                          'SUPERSEDED', 'CANCELLED', 'EXPIRED', 'TIMED_OUT',
                          '', ['ACKNOWLEDGED']]) {
        const res = await api(srv, 'POST', `/api/fleet/commands/${id}/status`,
                              { token: site.agentToken, body: { status } });
        assertError(res, 400, 'VALIDATION_ERROR', 'status');
    }
    assertError(await api(srv, 'POST', `/api/fleet/commands/${id}/status`,
                          { token: site.agentToken, body: {} }),
                400, 'VALIDATION_ERROR', 'status');
    assert.deepEqual(await command(id), before0);

    const other = await newSite(srv);
    assertError(await report(srv, other.agentToken, id, 'ACKNOWLEDGED'),
                404, 'COMMAND_NOT_FOUND');
    assertError(await report(srv, site.agentToken,
                             'zzzzzzzzzzzzzzzzzzzzzzzzz', 'ACKNOWLEDGED'),
                404, 'COMMAND_NOT_FOUND');
    assert.deepEqual(await command(id), before0);
    // The owner still can.
    assertOk(await report(srv, site.agentToken, id, 'ACKNOWLEDGED'));
});

test('bad report bodies: 400, 413, 415; message at most 1000 bytes',
     async () => {
         const { site, id } = await commandIn('DELIVERED');
         const before0 = await command(id);
         const path = `/api/fleet/commands/${id}/status`;
         const post = (opts) => api(srv, 'POST', path, {
             token: site.agentToken, ...opts,
         });
         assertError(await post({ rawBody: '{"status": "ACKNOWLEDGED"' }),
                     400, 'INVALID_JSON');
         assertError(await post({ rawBody: 'ACKNOWLEDGED' }), 400,
                     'INVALID_JSON');
         assert.equal((await post({ rawBody: '["ACKNOWLEDGED"]' })).status,
                      400);
         assert.equal((await post({ rawBody: '' })).status, 400);
         assertError(await post({
             body: { status: 'ACKNOWLEDGED', extra: 1 },
         }), 400, 'VALIDATION_ERROR', 'extra');
         assertError(await post({
             body: { status: 'ACKNOWLEDGED', message: 7 },
         }), 400, 'VALIDATION_ERROR', 'message');
         assertError(await post({
             rawBody: 'status=ACKNOWLEDGED',
             headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
         }), 415, 'UNSUPPORTED_MEDIA_TYPE');
         const huge = JSON.stringify({
             status: 'ACKNOWLEDGED', message: 'x'.repeat(1024 * 1024 + 10),
         });
         const big = await rawRequest(srv, 'POST', path, {
             token: site.agentToken, body: huge,
             headers: { 'Content-Type': 'application/json' },
         });
         assertError(big, 413, 'BODY_TOO_LARGE');
         const bigChunked = await rawRequest(srv, 'POST', path, {
             token: site.agentToken, body: huge, chunked: true,
             headers: { 'Content-Type': 'application/json' },
         });
         assertError(bigChunked, 413, 'BODY_TOO_LARGE');

         // 1001 bytes, and 1002 bytes in 334 characters.
         for (const message of ['m'.repeat(1001), '\u20ac'.repeat(334)]) {
             assertError(await report(srv, site.agentToken, id,
                                      'ACKNOWLEDGED', message),
                         400, 'VALIDATION_ERROR', 'message');
         }
         assert.deepEqual(await command(id), before0, 'nothing changed');

         const ok = '\u20ac'.repeat(333) + 'x';
         assert.equal(Buffer.byteLength(ok), 1000);
         const c = assertOk(await report(srv, site.agentToken, id,
                                         'ACKNOWLEDGED', ok)).command;
         assert.equal(c.status, 'ACKNOWLEDGED');
         assert.equal(c.message, ok);
     });
