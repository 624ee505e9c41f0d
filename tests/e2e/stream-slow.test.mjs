// A client that never reads its stream must not hold up anyone else: the
// server closes it once 256 KiB of output wait for it, while another
// node's stream keeps receiving every event promptly.
//
// The stuck client (lib/sse.mjs) shrinks the kernel's buffers so a few
// hundred events fill mcd's own; each deploy goes to both nodes and the
// release has the longest fields the API allows (~1 KiB per event).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';

import { startMcd, assertOk, createRelease } from './lib/mcd.mjs';
import {
    openStream, openStuckStream, newSite, deploy, getCommand, sleep,
    sanitizerReport,
} from './lib/sse.mjs';

const MAX_DEPLOYS = 3000;
const WORKERS = 6;
const PUSH_LIMIT_MS = 1000;

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

// The largest release the API accepts, so each event is ~1 KiB.
function bigRelease() {
    const pre = 'x'.repeat(50);
    const build = 'b'.repeat(60);
    return {
        version: `9.0.0-${pre}+${build}`,
        imageTag: `registry.example.com:5000/${'p'.repeat(150)}/app:` +
                  `${'t'.repeat(60)}`,
        imageDigest: `sha256:${'cd'.repeat(32)}`,
        rollbackVersion: `8.0.0-${pre}+${build}`,
    };
}

test('a stuck client is closed as slow; another node keeps receiving',
     { timeout: 120000 }, async () => {
         const a = await newSite(srv);
         const b = await newSite(srv);
         const rel = await createRelease(srv, bigRelease());
         const normal = await openStream(srv, { token: b.agentToken });
         const stuck = await openStuckStream(srv, a.agentToken);
         const slowRe = new RegExp(
             `stream closing.*node=${a.node.id}.*reason=slow`);
         let stuckClosedAt = null;

         const sent = []; // {id, t0} of every command for B
         let lastA = null;
         let deploys = 0;
         let failures = 0;
         const t0all = performance.now();
         const worker = async () => {
             while (stuckClosedAt === null && deploys < MAX_DEPLOYS) {
                 deploys += 1;
                 const t0 = performance.now();
                 const res = await deploy(srv, rel.id,
                                          [a.location.id, b.location.id]);
                 if (res.status !== 200) {
                     failures += 1;
                     continue;
                 }
                 const [ra, rb] = res.json.results;
                 lastA = ra.commandId;
                 sent.push({ id: rb.commandId, t0 });
                 if (stuckClosedAt === null && slowRe.test(srv.logs())) {
                     stuckClosedAt = performance.now();
                 }
             }
         };
         try {
             await Promise.all(Array.from({ length: WORKERS }, worker));
             const took = Math.round(performance.now() - t0all);
             assert.equal(failures, 0, 'every deploy answered 200');
             assert.notEqual(stuckClosedAt, null,
                             `the stuck stream was not closed after ` +
                             `${deploys} deploys (${took} ms)`);
             // The client, reading now, gets the rest and the end.
             const drained = await stuck.drain();
             assert.equal(drained.eof, true,
                          `stream still open after ${drained.bytes} bytes`);
             // A few more deploys to B after the close still arrive.
             for (let i = 0; i < 3; i++) {
                 const t0 = performance.now();
                 const res = await deploy(srv, rel.id, [b.location.id]);
                 sent.push({ id: assertOk(res).results[0].commandId, t0 });
             }
             await normal.waitFor(
                 (s) => s.events.length >= sent.length, 5000,
                 `all ${sent.length} events for B`);
             const byId = new Map(normal.events.map((e) => [e.json.id, e]));
             let worst = 0;
             for (const { id, t0 } of sent) {
                 const ev = byId.get(id);
                 assert.ok(ev, `B did not get ${id}`);
                 worst = Math.max(worst, ev.at - t0);
             }
             assert.ok(worst < PUSH_LIMIT_MS,
                       `an event for B took ${Math.round(worst)} ms`);
             assert.equal(normal.closed, false, 'B\'s stream stayed open');
             const logs = srv.logs();
             assert.match(logs, slowRe);
             assert.doesNotMatch(logs, new RegExp(
                 `stream closing.*node=${b.node.id}`));
             process.stderr.write(
                 `# stuck ${stuck.kind} client closed after ${deploys} ` +
                 `deploys, drained ${drained.bytes} bytes, ` +
                 `${took} ms; worst push to B ${Math.round(worst)} ms\n`);
         } finally {
             await normal.close();
             await stuck.close();
         }

         // A's last command is open (DELIVERED when it was pushed before
         // the close, PENDING when made after) and comes again on reconnect.
         const cmd = assertOk(await getCommand(srv, lastA)).command;
         assert.ok(['DELIVERED', 'PENDING'].includes(cmd.status), cmd.status);
         await sleep(100);
         const again = await openStream(srv, { token: a.agentToken });
         try {
             const ev = await again.waitForCommand(lastA, 3000);
             assert.equal(again.events.length, 1);
             assert.equal(ev.json.id, lastA);
         } finally {
             await again.close();
         }
     });
