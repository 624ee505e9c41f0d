// SIGKILL in the middle of a deploy to 1,000 locations: after a restart on
// the same data, every location has its whole result (a command for its
// node, targetVersion, a release.deploy audit entry) or none of it.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';

import {
    startMcd, api, assertOk, createRelease, getRelease,
} from './lib/mcd.mjs';
import {
    createLocation, registerNode, deploy, getCommand, parallel, openStream,
    sanitizerReport,
} from './lib/sse.mjs';

const LOCATIONS = 1000;

const servers = [];

after(async () => {
    for (const s of servers) {
        const code = await s.stop();
        if (s.proc.signalCode !== 'SIGKILL') {
            // Non-zero when the sanitizers found something at exit.
            assert.equal(code, 0, sanitizerReport(s.logs()));
        }
    }
});

// Every entry of a paged list.
async function all(srv, path, key) {
    const out = [];
    let before = '';
    for (;;) {
        const res = await api(srv, 'GET',
                              `${path}?limit=1000${before}`);
        const page = assertOk(res)[key];
        out.push(...page);
        if (page.length < 1000) {
            return out;
        }
        before = `&before=${page.at(-1).id}`;
    }
}

test('SIGKILL during a 1,000-location deploy leaves all or nothing',
     { timeout: 120000 }, async () => {
         const first = await startMcd();
         servers.push(first);
         const t0 = performance.now();
         const sites = await parallel(
             Array.from({ length: LOCATIONS }, (_, i) => i), 8,
             async (i) => {
                 const loc = await createLocation(first, {
                     name: `Venue ${i}`,
                 });
                 const reg = await registerNode(first, loc.id);
                 return {
                     locationId: loc.id, nodeId: reg.serverNode.id,
                     agentToken: reg.token,
                 };
             });
         const setupMs = Math.round(performance.now() - t0);
         const rel = await createRelease(first, { version: '5.0.0' });
         // One node holds its stream when mcd dies.
         const st = await openStream(first, { token: sites[0].agentToken });
         await st.waitFor((x) => x.items.length > 0, 3000, 'retry');

         // Send the deploy and kill mcd while it works on it.
         const delay = 30 + Math.floor(Math.random() * 50);
         let answer = null;
         const sent = performance.now();
         const call = deploy(first, rel.id, sites.map((s) => s.locationId))
             .then((res) => {
                 answer = { status: res.status, at: performance.now() - sent };
             }, (err) => {
                 answer = { error: err.message, at: performance.now() - sent };
             });
         await new Promise((r) => setTimeout(r, delay));
         const killedAt = performance.now() - sent;
         const sig = await first.kill();
         assert.equal(sig, 'SIGKILL');
         await call;
         await st.close();

         const second = await startMcd({
             dir: first.dir, token: first.token, password: first.password,
         });
         servers.push(second);
         const locations = await all(second, '/api/admin/locations',
                                     'locations');
         assert.equal(locations.length, LOCATIONS);
         const entries = (await all(second, '/api/admin/audit', 'entries'))
             .filter((e) => e.action === 'release.deploy' &&
                            e.targetId === rel.id);
         const detail = await getRelease(second, rel.id);
         const commands = detail.release.deployCount;

         const auditByLoc = new Map();
         for (const e of entries) {
             assert.ok(!auditByLoc.has(e.details.locationId),
                       'one entry per location');
             auditByLoc.set(e.details.locationId, e);
         }
         const nodeOf = new Map(sites.map((s) => [s.locationId, s.nodeId]));
         let targeted = 0;
         const halves = [];
         for (const loc of locations) {
             const target = loc.serverNode.targetVersion === rel.version;
             const entry = auditByLoc.get(loc.id);
             targeted += target ? 1 : 0;
             if (target !== Boolean(entry)) {
                 halves.push(`${loc.id}: target=${target} audit=${!!entry}`);
             }
             assert.equal(loc.serverNode.id, nodeOf.get(loc.id));
         }
         assert.deepEqual(halves, [], 'half-done locations');
         // Nobody holds a stream of the new process. (On a shared
         // PostgreSQL the nodes of a dead instance go offline when its
         // heartbeat is 30 s old, which this test does not wait for.)
         if (process.env.MC_TEST_DB !== 'postgres') {
             assert.deepEqual(locations.filter((l) => l.serverNode.online)
                                  .map((l) => l.id), [],
                              'online after restart');
         }
         // Each audited command exists, for that location's node.
         await parallel(entries, 8, async (e) => {
             const c = assertOk(await getCommand(second, e.details.commandId))
                 .command;
             assert.equal(c.serverNodeId, nodeOf.get(e.details.locationId));
             assert.equal(c.locationId, e.details.locationId);
             assert.equal(c.releaseId, rel.id);
             // DELIVERED when the deploy finished before the kill and
             // reached the one open stream.
             assert.ok(c.status === 'PENDING' ||
                       (c.status === 'DELIVERED' &&
                        c.serverNodeId === sites[0].nodeId), c.status);
         });
         assert.equal(commands, entries.length, 'commands = audit entries');
         assert.equal(targeted, entries.length, 'targets = audit entries');
         assert.ok(commands === 0 || commands === LOCATIONS,
                   `${commands} of ${LOCATIONS} deployed`);
         // A deploy that answered 200 before the kill is durable.
         if (answer && answer.status === 200) {
             assert.equal(commands, LOCATIONS);
         }

         // And the store works on: the deploy can be made now.
         const t1 = performance.now();
         const again = await deploy(second, rel.id,
                                    sites.map((s) => s.locationId));
         const deployMs = Math.round(performance.now() - t1);
         process.stderr.write(
             `# setup ${setupMs} ms; killed ${Math.round(killedAt)} ms ` +
             `after sending; answer ${JSON.stringify(answer)}; ` +
             `after restart ${commands} of ${LOCATIONS} locations ` +
             `deployed; a whole deploy takes ${deployMs} ms\n`);
         const json = assertOk(again, 200);
         assert.equal(json.summary.succeeded, LOCATIONS);
         const after2 = await getRelease(second, rel.id);
         assert.equal(after2.release.deployCount, commands + LOCATIONS);
     });
