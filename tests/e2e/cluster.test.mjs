// Two mcd instances on one PostgreSQL: a deploy through one reaches a
// stream held by the other at once, a stream that moves replaces the old
// one, an agent whose instance died catches up at the other, and both
// instances ride out a database restart by themselves.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { api, assertOk, createRelease, randomSecret, startMcd } from
    './lib/mcd.mjs';
import { startPostgres } from './lib/pg.mjs';
import {
    deploy, findLocation, newSite, nextVersion, openStream, sleep,
} from './lib/sse.mjs';

let pg;
let a;
let b;
const shared = { token: randomSecret(32) };

async function instance(url, extra = []) {
    // Every instance signs with the same key, as docs/scale-out.md says.
    return startMcd({
        token: shared.token,
        args: ['--db', url, '--key', shared.key, '--keepalive', '1',
            ...extra],
    });
}

async function waitFor(what, fn, ms = 10000) {
    const until = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) {
            return v;
        }
        assert.ok(Date.now() < until, `timed out waiting for ${what}`);
        await sleep(100);
    }
}

before(async () => {
    pg = await startPostgres();
    shared.url = await pg.createDatabase('mc_cluster');
    shared.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-cluster-'));
    shared.key = path.join(shared.dir, 'server.key');
    a = await instance(shared.url);
    b = await instance(shared.url);
});

after(async () => {
    // Non-zero when the sanitizers found something at exit.
    assert.equal(await a?.stop(), 0, a?.logs().slice(-3000));
    await b?.stop();
    await pg?.stop();
    fs.rmSync(shared.dir, { recursive: true, force: true });
});

test('a deploy through A reaches a stream on B within a second', async () => {
    const site = await newSite(a);
    const rel = await createRelease(a, { version: nextVersion() });
    const st = await openStream(b, { token: site.agentToken });
    try {
        assert.equal(st.status, 200);
        await st.waitFor((s) => s.items.length > 0, 3000, 'retry line');
        await waitFor('online via A', async () =>
            (await findLocation(a, site.location.id)).serverNode.online);
        const t0 = performance.now();
        const res = assertOk(await deploy(a, rel.id, [site.location.id]));
        const ev = await st.waitForCommand(res.results[0].commandId, 3000);
        assert.ok(ev.at - t0 < 1000, `arrived after ${ev.at - t0} ms`);
        // B marked it delivered, visible through A.
        await waitFor('DELIVERED', async () => (await api(a, 'GET',
            `/api/admin/commands/${res.results[0].commandId}`)).json
            .command.status === 'DELIVERED');
    } finally {
        st.close();
    }
});

test('a stream opened on A replaces the node\'s stream on B', async () => {
    const site = await newSite(a);
    const onB = await openStream(b, { token: site.agentToken });
    await onB.waitFor((s) => s.items.length > 0, 3000, 'retry line');
    const onA = await openStream(a, { token: site.agentToken });
    try {
        await onA.waitFor((s) => s.items.length > 0, 3000, 'retry line');
        await Promise.race([onB.ended, sleep(3000)]);
        assert.ok(onB.closed, 'the stream on B is still open');
        assert.equal(onA.closed, false);
        assert.match(b.logs(), /msg="stream closing" node=\S+ reason="?closed/);
        const loc = await findLocation(a, site.location.id);
        assert.equal(loc.serverNode.online, true);
    } finally {
        onA.close();
        onB.close();
    }
});

test('PostgreSQL restarts: streams stay, both instances recover', async () => {
    const site = await newSite(a);
    const rel = await createRelease(a, { version: nextVersion() });
    const st = await openStream(b, { token: site.agentToken });
    try {
        await st.waitFor((s) => s.items.length > 0, 3000, 'retry line');
        await pg.halt();
        const down = await api(a, 'GET', '/api/admin/releases');
        assert.equal(down.status, 503);
        assert.equal(down.json.error.code, 'DATABASE_UNAVAILABLE');
        // The loop does not wait on the database: keep-alives go on.
        const seen = st.comments.length;
        await sleep(2500);
        assert.ok(st.comments.length > seen, 'no keep-alive while down');
        assert.equal(st.closed, false);
        await pg.start();
        for (const srv of [a, b]) {
            await waitFor('recovery', async () =>
                (await api(srv, 'GET', '/api/admin/releases')).status === 200);
        }
        // B's listener is back: a deploy through A reaches B's stream.
        const res = await waitFor('deploy', async () => {
            const r = await deploy(a, rel.id, [site.location.id]);
            return r.status === 200 ? r.json : null;
        });
        await st.waitForCommand(res.results[0].commandId, 5000);
    } finally {
        st.close();
    }
});

test('B dies: the agent moves to A and gets what it missed', async () => {
    const site = await newSite(a);
    const rel = await createRelease(a, { version: nextVersion() });
    const st = await openStream(b, { token: site.agentToken });
    await st.waitFor((s) => s.items.length > 0, 3000, 'retry line');
    await b.kill();
    await Promise.race([st.ended, sleep(3000)]);
    st.close();
    const res = assertOk(await deploy(a, rel.id, [site.location.id]));
    const again = await openStream(a, { token: site.agentToken });
    try {
        await again.waitForCommand(res.results[0].commandId, 3000);
    } finally {
        again.close();
    }
    b = null;
});
