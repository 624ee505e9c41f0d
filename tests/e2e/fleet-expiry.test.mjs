// Commands the server ends itself: EXPIRED (not acknowledged before
// --command-ttl) and TIMED_OUT (no final report --command-timeout after
// the acknowledgement), with a sweep every second so it shows in seconds.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
    startMcd, api, assertError, assertOk, createRelease, TIME_RE,
} from './lib/mcd.mjs';
import {
    openStream, newSite, deploy, getCommand, report, nextVersion, sleep,
    sanitizerReport,
} from './lib/sse.mjs';

const TTL_S = 2;
const TIMEOUT_S = 2;

let srv;

before(async () => {
    srv = await startMcd({
        args: ['--keepalive', '1', '--sweep-interval', '1',
               '--command-ttl', String(TTL_S),
               '--command-timeout', String(TIMEOUT_S)],
    });
});

after(async () => {
    if (srv) {
        // Non-zero when the sanitizers found something at exit.
        assert.equal(await srv.stop(), 0, sanitizerReport(srv.logs()));
    }
});

async function command(id) {
    return assertOk(await getCommand(srv, id)).command;
}

async function waitStatus(id, status, ms) {
    const until = Date.now() + ms;
    let c;
    for (;;) {
        c = await command(id);
        if (c.status === status || Date.now() > until) {
            return c;
        }
        await sleep(100);
    }
}

test('unacknowledged commands expire; acknowledged ones time out',
     { timeout: 30000 }, async () => {
         const rel = await createRelease(srv, { version: nextVersion(4) });
         const names = ['pending', 'delivered', 'acked', 'started', 'done'];
         const sites = {};
         for (const n of names) {
             sites[n] = await newSite(srv);
         }
         const res = await deploy(srv, rel.id,
                                  names.map((n) => sites[n].location.id));
         const ids = {};
         assertOk(res).results.forEach((r, i) => {
             ids[names[i]] = r.commandId;
         });
         const created = await command(ids.pending);
         assert.equal(Date.parse(created.expiresAt) -
                      Date.parse(created.createdAt), TTL_S * 1000);

         for (const n of names.slice(1)) {
             const st = await openStream(srv, { token: sites[n].agentToken });
             await st.waitForCommand(ids[n], 3000);
             await st.close();
         }
         const moves = {
             acked: ['ACKNOWLEDGED'],
             started: ['ACKNOWLEDGED', 'IN_PROGRESS'],
             done: ['ACKNOWLEDGED', 'IN_PROGRESS', 'SUCCEEDED'],
         };
         for (const [n, list] of Object.entries(moves)) {
             for (const s of list) {
                 assertOk(await report(srv, sites[n].agentToken, ids[n], s));
             }
         }
         const t0 = Date.now();
         // Sweeps run every second: allow ttl + 2 sweeps and some slack.
         const limit = (Math.max(TTL_S, TIMEOUT_S) + 4) * 1000;
         const want = {
             pending: 'EXPIRED', delivered: 'EXPIRED', acked: 'TIMED_OUT',
             started: 'TIMED_OUT',
         };
         for (const [n, status] of Object.entries(want)) {
             const c = await waitStatus(ids[n], status,
                                        limit - (Date.now() - t0));
             assert.equal(c.status, status, `${n}: ${JSON.stringify(c)}`);
             assert.match(c.finishedAt, TIME_RE, n);
             assert.ok(typeof c.message === 'string' && c.message.length > 0,
                       `${n} says why`);
         }
         // Not before its time: expiry is after expiresAt.
         const exp = await command(ids.pending);
         assert.ok(exp.finishedAt >= exp.expiresAt,
                   `${exp.finishedAt} < ${exp.expiresAt}`);
         const tim = await command(ids.acked);
         assert.ok(Date.parse(tim.finishedAt) -
                   Date.parse(tim.acknowledgedAt) >= TIMEOUT_S * 1000,
                   JSON.stringify(tim));
         // A finished command stays as it is.
         assert.equal((await command(ids.done)).status, 'SUCCEEDED');
         assert.match(srv.logs(), /commands expired or timed out.*count=/);

         // Nothing the agent says moves them now, nor can an admin cancel.
         for (const n of Object.keys(want)) {
             const before0 = await command(ids[n]);
             for (const s of ['ACKNOWLEDGED', 'IN_PROGRESS', 'SUCCEEDED',
                              'FAILED']) {
                 assertError(await report(srv, sites[n].agentToken, ids[n], s),
                             409, 'INVALID_TRANSITION');
             }
             assertError(await api(srv, 'POST',
                                   `/api/admin/commands/${ids[n]}/cancel`),
                         409, 'INVALID_TRANSITION');
             assert.deepEqual(await command(ids[n]), before0, n);
         }

         // An expired command is not sent again.
         const st = await openStream(srv, {
             token: sites.delivered.agentToken,
         });
         try {
             await st.waitFor((s) => s.comments.length > 0, 3000, 'keep-alive');
             assert.equal(st.events.length, 0);
         } finally {
             await st.close();
         }
     });
