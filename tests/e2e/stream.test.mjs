// The agent stream (SSE) with real streaming clients against a real mcd:
// live push, backlog, signatures, agent authentication, reconnects,
// replacement, decommissioning, online state, and bad query parameters.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';

import {
    startMcd, api, assertError, assertOk, createRelease, randomSecret,
    ID_RE, TIME_RE,
} from './lib/mcd.mjs';
import {
    openStream, canonical, verifyCommand, newSite, registerNode, deploy,
    getCommand, report, findLocation, nextVersion, sleep,
    sanitizerReport,
} from './lib/sse.mjs';

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

async function release(fields = {}) {
    return createRelease(srv, { version: nextVersion(), ...fields });
}

async function deployOk(rel, locationIds) {
    const res = await deploy(srv, rel.id, locationIds);
    const json = assertOk(res);
    return json.results.map((r) => r.commandId);
}

// Polls the location list until pred(location) holds.
async function waitLocation(id, pred, ms = 3000) {
    const until = Date.now() + ms;
    let loc;
    for (;;) {
        loc = await findLocation(srv, id);
        if (pred(loc) || Date.now() > until) {
            return loc;
        }
        await sleep(50);
    }
}

test('a deploy reaches an online node within the same second', async () => {
    const site = await newSite(srv);
    const rel = await release();
    const st = await openStream(srv, { token: site.agentToken });
    try {
        assert.equal(st.status, 200);
        assert.match(st.headers['content-type'], /^text\/event-stream/);
        await st.waitFor((s) => s.items.length > 0, 3000, 'retry line');
        for (let i = 0; i < 3; i++) {
            const t0 = performance.now();
            const [id] = await deployOk(rel, [site.location.id]);
            const ev = await st.waitForCommand(id, 3000);
            const ms = ev.at - t0;
            assert.ok(ms < 1000, `event ${i} arrived after ${ms} ms`);
            assert.equal(ev.event, 'command');
            assert.match(ev.id, /^[1-9][0-9]*$/);
        }
        // Event ids are the commands' seq, increasing.
        const ids = st.events.map((e) => Number(e.id));
        assert.deepEqual([...ids].sort((a, b) => a - b), ids);
        assert.equal(new Set(ids).size, ids.length);
        for (const ev of st.events) {
            const cmd = assertOk(await getCommand(srv, ev.json.id)).command;
            assert.equal(cmd.seq, Number(ev.id));
        }
        // The pushed commands were marked delivered; older ones superseded.
        const last = st.events.at(-1).json.id;
        const cmd = assertOk(await getCommand(srv, last)).command;
        assert.equal(cmd.status, 'DELIVERED');
        assert.match(cmd.deliveredAt, TIME_RE);
        const first = st.events[0].json.id;
        assert.equal(assertOk(await getCommand(srv, first)).command.status,
                     'SUPERSEDED');
    } finally {
        await st.close();
    }
});

test('the backlog is sent on connect, retry first, superseded skipped',
     async () => {
         const site = await newSite(srv);
         const relA = await release();
         const relB = await release();
         const [oldId] = await deployOk(relA, [site.location.id]);
         const [newId] = await deployOk(relB, [site.location.id]);
         let cmd = assertOk(await getCommand(srv, newId)).command;
         assert.equal(cmd.status, 'PENDING');
         assert.equal(cmd.deliveredAt, null);

         const st = await openStream(srv, { token: site.agentToken });
         try {
             await st.waitForCommand(newId, 3000);
             assert.equal(st.items[0].type, 'retry', 'retry: comes first');
             assert.equal(st.items[0].value, 5000);
             // Only the open command: the superseded one is not sent.
             await sleep(300);
             assert.deepEqual(st.events.map((e) => e.json.id), [newId]);
             assert.ok(!st.events.some((e) => e.json.id === oldId));
             cmd = assertOk(await getCommand(srv, newId)).command;
             assert.equal(cmd.status, 'DELIVERED');
             assert.match(cmd.deliveredAt, TIME_RE);
             assert.equal(assertOk(await getCommand(srv, oldId)).command.status,
                          'SUPERSEDED');
             // Live pushes after the backlog keep seq order.
             const [liveId] = await deployOk(relA, [site.location.id]);
             await st.waitForCommand(liveId, 3000);
             const seqs = st.events.map((e) => Number(e.id));
             assert.ok(seqs[0] < seqs[1], `seq order ${seqs}`);
             assert.equal(st.items.filter((i) => i.type === 'retry').length,
                          1, 'retry: is sent once');
         } finally {
             await st.close();
         }
     });

test('the command carries its fields and a signature that verifies',
     async () => {
         const site = await newSite(srv);
         assert.equal(Buffer.from(site.publicKey, 'base64').length, 32);
         const rel = await release({
             channel: 'BETA',
             imageTag: 'registry.example.com:5000/pos/app:v2-beta',
             imageDigest: `sha256:${'ab'.repeat(32)}`,
             rollbackVersion: '0.9.1',
         });
         const [id] = await deployOk(rel, [site.location.id]);
         const st = await openStream(srv, { token: site.agentToken });
         let cmd;
         try {
             cmd = (await st.waitForCommand(id, 3000)).json;
         } finally {
             await st.close();
         }
         assert.deepEqual(Object.keys(cmd).sort(), [
             'createdAt', 'expiresAt', 'id', 'release', 'serverNodeId',
             'signature', 'type',
         ]);
         assert.equal(cmd.id, id);
         assert.equal(cmd.type, 'FORCE_UPDATE');
         assert.equal(cmd.serverNodeId, site.node.id);
         assert.deepEqual(cmd.release, {
             version: rel.version, channel: 'BETA',
             imageTag: 'registry.example.com:5000/pos/app:v2-beta',
             imageDigest: `sha256:${'ab'.repeat(32)}`,
             rollbackVersion: '0.9.1',
         });
         assert.match(cmd.createdAt, TIME_RE);
         assert.match(cmd.expiresAt, TIME_RE);
         const ttl = Date.parse(cmd.expiresAt) - Date.parse(cmd.createdAt);
         assert.equal(ttl, 86400 * 1000, 'default --command-ttl is a day');
         assert.match(cmd.signature, /^[A-Za-z0-9+/]{86}==$/);

         assert.ok(verifyCommand(cmd, site.publicKey), 'signature verifies');

         // One changed byte anywhere in the signed bytes breaks it.
         const { signature, ...rest } = cmd;
         const bytes = Buffer.from(canonical(rest), 'utf8');
         for (const at of [0, 10, bytes.indexOf(rel.version),
                           bytes.length - 1]) {
             const bad = Buffer.from(bytes);
             bad[at] ^= 0x01;
             assert.equal(verifyCommand(cmd, site.publicKey, bad), false,
                          `byte ${at} changed`);
         }
         // So does a changed field, and another key.
         const forged = { ...cmd, release: { ...cmd.release,
                                             imageTag: 'evil/app:1' } };
         assert.equal(verifyCommand(forged, site.publicKey), false);
         const otherKey = Buffer.alloc(32, 7).toString('base64');
         assert.equal(verifyCommand(cmd, otherKey), false);
         assert.ok(signature);

         // Null fields are in the signed payload as null.
         const site2 = await newSite(srv);
         assert.equal(site2.publicKey, site.publicKey, 'one server key');
         const plain = await release();
         const [id2] = await deployOk(plain, [site2.location.id]);
         const st2 = await openStream(srv, { token: site2.agentToken });
         try {
             const c2 = (await st2.waitForCommand(id2, 3000)).json;
             assert.equal(c2.release.imageDigest, null);
             assert.equal(c2.release.rollbackVersion, null);
             assert.equal(c2.release.channel, 'STABLE');
             assert.ok(verifyCommand(c2, site.publicKey));
         } finally {
             await st2.close();
         }
     });

test('agent auth: no, forged, admin and decommissioned tokens are 401',
     async () => {
         const site = await newSite(srv);
         const rel = await release();
         const [id] = await deployOk(rel, [site.location.id]);
         const forged = `mca_${randomSecret(40)}`;
         const bad = {
             'no token': null,
             'forged token': forged,
             'admin API token': srv.token,
             'empty bearer': '',
         };
         for (const [what, token] of Object.entries(bad)) {
             const st = await openStream(srv, { token });
             await st.waitForEnd(3000);
             assert.equal(st.status, 401, `stream with ${what}`);
             assert.equal(st.json?.error?.code, 'UNAUTHORIZED', what);
             const r = await report(srv, token, id, 'ACKNOWLEDGED');
             assertError(r, 401, 'UNAUTHORIZED');
         }
         // Basic auth with the agent token is not a bearer token either.
         const st = await openStream(srv, {
             headers: { Authorization: `Basic ${site.agentToken}` },
         });
         await st.waitForEnd(3000);
         assert.equal(st.status, 401);
         // Nothing moved.
         const cmd = assertOk(await getCommand(srv, id)).command;
         assert.equal(cmd.status, 'PENDING');

         // A decommissioned node's token stops working everywhere.
         const dec = await api(srv, 'POST',
                               `/api/admin/nodes/${site.node.id}/decommission`);
         assertOk(dec);
         const st2 = await openStream(srv, { token: site.agentToken });
         await st2.waitForEnd(3000);
         assert.equal(st2.status, 401);
         assertError(await report(srv, site.agentToken, id, 'ACKNOWLEDGED'),
                     401, 'UNAUTHORIZED');
     });

test('decommission closes the stream, cancels open commands; re-register',
     async () => {
         const site = await newSite(srv);
         const rel = await release();
         const st = await openStream(srv, { token: site.agentToken });
         let delivered;
         try {
             const [id] = await deployOk(rel, [site.location.id]);
             await st.waitForCommand(id, 3000);
             delivered = id;
             assert.equal((await waitLocation(site.location.id,
                                              (l) => l.serverNode.online))
                              .serverNode.online, true);

             // A second active node at the location is refused.
             const again = await api(
                 srv, 'POST', `/api/admin/locations/${site.location.id}/nodes`,
                 { body: { name: 'pos-2' } });
             assertError(again, 409, 'NODE_EXISTS');

             const res = await api(
                 srv, 'POST', `/api/admin/nodes/${site.node.id}/decommission`);
             const node = assertOk(res).serverNode;
             assert.equal(node.status, 'DECOMMISSIONED');
             assert.match(node.decommissionedAt, TIME_RE);
             await st.waitForEnd(3000);
         } finally {
             await st.close();
         }
         const cmd = assertOk(await getCommand(srv, delivered)).command;
         assert.equal(cmd.status, 'CANCELLED');
         assert.match(cmd.finishedAt, TIME_RE);
         let loc = await findLocation(srv, site.location.id);
         assert.equal(loc.serverNode, null);

         // Deciding again on a decommissioned node is a conflict.
         const twice = await api(
             srv, 'POST', `/api/admin/nodes/${site.node.id}/decommission`);
         assert.equal(twice.status, 409, twice.text);

         // A deploy now finds no active node.
         const d = await deploy(srv, rel.id, [site.location.id]);
         assert.equal(d.status, 422);
         assert.equal(d.json.results[0].error.code, 'NO_ACTIVE_SERVER');

         // Registering again works, with a new token; the old one stays dead.
         const reg = await registerNode(srv, site.location.id, undefined,
                                        'pos-new');
         assert.notEqual(reg.serverNode.id, site.node.id);
         assert.notEqual(reg.token, site.agentToken);
         loc = await findLocation(srv, site.location.id);
         assert.equal(loc.serverNode.id, reg.serverNode.id);
         const [id2] = await deployOk(rel, [site.location.id]);
         const st2 = await openStream(srv, { token: reg.token });
         try {
             const ev = await st2.waitForCommand(id2, 3000);
             assert.equal(ev.json.serverNodeId, reg.serverNode.id);
         } finally {
             await st2.close();
         }
         const old = await openStream(srv, { token: site.agentToken });
         await old.waitForEnd(3000);
         assert.equal(old.status, 401);
     });

test('reconnect with Last-Event-ID: unacknowledged comes again, then not',
     async () => {
         const site = await newSite(srv);
         const rel = await release();
         const before0 = await findLocation(srv, site.location.id);
         assert.equal(before0.serverNode.online, false);
         assert.equal(before0.serverNode.lastSeenAt, null);

         const query = { currentVersion: '1.0.0-rc.1', schemaVersion: '17' };
         const s1 = await openStream(srv, { token: site.agentToken, query });
         let eventId;
         const [id] = await deployOk(rel, [site.location.id]);
         try {
             eventId = (await s1.waitForCommand(id, 3000)).id;
             const loc = await waitLocation(site.location.id,
                                            (l) => l.serverNode.online);
             assert.equal(loc.serverNode.online, true);
             assert.match(loc.serverNode.lastSeenAt, TIME_RE);
             assert.equal(loc.serverNode.currentVersion, '1.0.0-rc.1');
             assert.equal(loc.serverNode.schemaVersion, 17);
             assert.equal(loc.serverNode.targetVersion, rel.version);
         } finally {
             await s1.close();
         }
         const off = await waitLocation(site.location.id,
                                        (l) => !l.serverNode.online);
         assert.equal(off.serverNode.online, false, 'offline after close');
         assert.match(off.serverNode.lastSeenAt, TIME_RE);
         // Without a version in the query the recorded one stays.
         assert.equal(off.serverNode.currentVersion, '1.0.0-rc.1');

         // Not acknowledged: it comes again, with the same event id.
         const s2 = await openStream(srv, {
             token: site.agentToken, lastEventId: eventId,
         });
         try {
             const ev = await s2.waitForCommand(id, 3000);
             assert.equal(ev.id, eventId);
             assertOk(await report(srv, site.agentToken, id, 'ACKNOWLEDGED'));
         } finally {
             await s2.close();
         }
         assert.match(srv.logs(), new RegExp(
             `stream resume.*node=${site.node.id}.*` +
             `last_event_id="${eventId}"`));

         // Acknowledged: a reconnect sends nothing (wait for keep-alives).
         const s3 = await openStream(srv, {
             token: site.agentToken, lastEventId: eventId,
         });
         try {
             await s3.waitFor((s) => s.comments.length >= 1, 3000,
                              'keep-alive');
             assert.equal(s3.events.length, 0,
                          JSON.stringify(s3.events.map((e) => e.data)));
             assert.equal(s3.comments[0].text, 'keep-alive');
         } finally {
             await s3.close();
         }
     });

test('a second stream of the node replaces the first', async () => {
    const site = await newSite(srv);
    const rel = await release();
    const s1 = await openStream(srv, { token: site.agentToken });
    const s2p = openStream(srv, { token: site.agentToken });
    let s2;
    try {
        await s1.waitFor((s) => s.items.length > 0, 3000, 'retry');
        s2 = await s2p;
        assert.equal(s2.status, 200);
        await s1.waitForEnd(3000);
        // The node stays online: it is the replaced stream that closed.
        await sleep(200);
        const loc = await findLocation(srv, site.location.id);
        assert.equal(loc.serverNode.online, true);
        const [id] = await deployOk(rel, [site.location.id]);
        await s2.waitForCommand(id, 3000);
        assert.equal(s1.events.length, 0);
        assert.match(srv.logs(), new RegExp(
            `stream closing.*node=${site.node.id}.*reason=replaced`));
    } finally {
        await s1.close();
        if (s2) {
            await s2.close();
        }
    }
    const off = await waitLocation(site.location.id,
                                   (l) => !l.serverNode.online);
    assert.equal(off.serverNode.online, false);
});

test('bad stream query parameters are 400 and record nothing', async () => {
    const site = await newSite(srv);
    const cases = [
        { schemaVersion: 'abc' },
        { schemaVersion: '-1' },
        { schemaVersion: '2147483648' },
        { schemaVersion: '4x' },
        { schemaVersion: '' },
        { currentVersion: 'banana' },
        { currentVersion: '1.2' },
        { currentVersion: '' },
    ];
    for (const query of cases) {
        const st = await openStream(srv, { token: site.agentToken, query });
        await st.waitForEnd(3000);
        assert.equal(st.status, 400, JSON.stringify(query));
        assert.ok(st.json?.error?.code, `${JSON.stringify(query)}: ${st.text}`);
        assert.match(st.json.error.code, /^(INVALID_QUERY|VALIDATION_ERROR)$/);
    }
    const loc = await findLocation(srv, site.location.id);
    assert.equal(loc.serverNode.online, false);
    assert.equal(loc.serverNode.lastSeenAt, null);
    assert.equal(loc.serverNode.schemaVersion, null);
    assert.equal(loc.serverNode.currentVersion, null);

    // The edges are accepted.
    const ok = await openStream(srv, {
        token: site.agentToken,
        query: { schemaVersion: '2147483647', currentVersion: '1.2.3+b.7' },
    });
    try {
        assert.equal(ok.status, 200);
    } finally {
        await ok.close();
    }
    const after = await findLocation(srv, site.location.id);
    assert.equal(after.serverNode.schemaVersion, 2147483647);
    assert.equal(after.serverNode.currentVersion, '1.2.3+b.7');
    assert.match(after.serverNode.id, ID_RE);
});
