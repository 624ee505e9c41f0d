// Deploys through the admin API against a real mcd: per-location results
// and statuses, the schema gate, supersede, validation, duplicates,
// deployCount and deployments, idempotent retries, cancel, and the
// isolation of organizations.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
    startMcd, api, assertError, assertOk, createRelease, getRelease,
    listReleases, createOrganization, makeUser, ID_RE, TIME_RE,
} from './lib/mcd.mjs';
import {
    openStream, newSite, createLocation, deploy, getCommand, report,
    findLocation, listLocations, nextVersion,
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

async function release(fields = {}, token) {
    return createRelease(srv, { version: nextVersion(2), ...fields }, token);
}

async function audit(token, query = '?limit=1000') {
    const res = await api(srv, 'GET', `/api/admin/audit${query}`, { token });
    return assertOk(res).entries;
}

// Connects a node's stream with a schema version, then disconnects, so
// the server has recorded it.
async function reportSchema(site, schemaVersion) {
    const st = await openStream(srv, {
        token: site.agentToken,
        query: { schemaVersion: String(schemaVersion) },
    });
    assert.equal(st.status, 200);
    await st.waitFor((s) => s.items.length > 0, 3000, 'retry');
    await st.close();
}

function assertResult(r, locationId, ok) {
    assert.equal(r.locationId, locationId);
    assert.equal(r.success, ok);
    if (ok) {
        assert.match(r.commandId, ID_RE);
        assert.match(r.serverNodeId, ID_RE);
        assert.equal(r.error, null);
    } else {
        assert.equal(r.commandId, null);
        assert.equal(r.serverNodeId, null);
        assert.equal(typeof r.error.message, 'string');
        assert.ok(r.error.message.length > 0);
    }
}

test('200, 207 and 422 with one result per location, in order', async () => {
    const site = await newSite(srv);
    const bare = await createLocation(srv);
    const rel = await release();
    const unknown = 'zzzzzzzzzzzzzzzzzzzzzzzzz';

    let res = await deploy(srv, rel.id, [site.location.id]);
    let json = assertOk(res, 200);
    assert.deepEqual(json.summary, { succeeded: 1, failed: 0 });
    assertResult(json.results[0], site.location.id, true);
    assert.equal(json.results[0].serverNodeId, site.node.id);

    res = await deploy(srv, rel.version, [bare.id, site.location.id, unknown]);
    json = assertOk(res, 207);
    assert.deepEqual(json.summary, { succeeded: 1, failed: 2 });
    assert.equal(json.results.length, 3);
    assertResult(json.results[0], bare.id, false);
    assert.equal(json.results[0].error.code, 'NO_ACTIVE_SERVER');
    assertResult(json.results[1], site.location.id, true);
    assertResult(json.results[2], unknown, false);
    assert.equal(json.results[2].error.code, 'LOCATION_NOT_FOUND');

    res = await deploy(srv, rel.id, [bare.id, unknown]);
    json = assertOk(res, 422);
    assert.deepEqual(json.summary, { succeeded: 0, failed: 2 });
    assert.deepEqual(json.results.map((r) => r.error.code),
                     ['NO_ACTIVE_SERVER', 'LOCATION_NOT_FOUND']);

    // Nothing was made for the failures: two commands in all.
    const detail = await getRelease(srv, rel.id);
    assert.equal(detail.release.deployCount, 2);
    assert.equal(detail.deployments.length, 2);
    const loc = await findLocation(srv, bare.id);
    assert.equal(loc.serverNode, null);

    // An unknown release is 404.
    assertError(await deploy(srv, '99.99.99', [site.location.id]), 404,
                'RELEASE_NOT_FOUND');
});

test('the command is stored with its fields; the node gets targetVersion',
     async () => {
         const site = await newSite(srv);
         const rel = await release();
         const res = await deploy(srv, rel.id, [site.location.id]);
         const id = assertOk(res).results[0].commandId;
         const me = assertOk(await api(srv, 'GET', '/api/auth/me')).user;
         const cmd = assertOk(await getCommand(srv, id)).command;
         assert.equal(cmd.id, id);
         assert.equal(cmd.type, 'FORCE_UPDATE');
         assert.equal(cmd.serverNodeId, site.node.id);
         assert.equal(cmd.locationId, site.location.id);
         assert.equal(cmd.releaseId, rel.id);
         assert.equal(cmd.version, rel.version);
         assert.equal(cmd.status, 'PENDING');
         assert.equal(cmd.createdById, me.id);
         assert.ok(Number.isInteger(cmd.seq) && cmd.seq > 0);
         for (const k of ['createdAt', 'expiresAt', 'updatedAt']) {
             assert.match(cmd[k], TIME_RE, k);
         }
         for (const k of ['deliveredAt', 'acknowledgedAt', 'startedAt',
                          'finishedAt']) {
             assert.equal(cmd[k], null, k);
         }
         const loc = await findLocation(srv, site.location.id);
         assert.equal(loc.serverNode.targetVersion, rel.version);
         assert.equal(loc.serverNode.currentVersion, null);
         assertError(await getCommand(srv, 'zzzzzzzzzzzzzzzzzzzzzzzzz'), 404,
                     'COMMAND_NOT_FOUND');
         // The audit entry for the location.
         const entry = (await audit()).find(
             (e) => e.action === 'release.deploy' &&
                    e.details?.commandId === id);
         assert.ok(entry, 'release.deploy audit entry');
         assert.equal(entry.targetId, rel.id);
         assert.equal(entry.details.locationId, site.location.id);
         assert.equal(entry.details.serverNodeId, site.node.id);
         assert.equal(entry.details.version, rel.version);
         assert.equal(entry.adminUserId, me.id);
     });

test('supersede: the node gets both, only the newer can be acknowledged',
     async () => {
         const site = await newSite(srv);
         const rel1 = await release();
         const rel2 = await release();
         const st = await openStream(srv, { token: site.agentToken });
         let first;
         let second;
         try {
             first = assertOk(await deploy(srv, rel1.id, [site.location.id]))
                 .results[0].commandId;
             await st.waitForCommand(first, 3000);
             second = assertOk(await deploy(srv, rel2.id,
                                            [site.location.id]))
                 .results[0].commandId;
             await st.waitForCommand(second, 3000);
         } finally {
             await st.close();
         }
         assert.deepEqual(st.events.map((e) => e.json.id), [first, second]);
         const c1 = assertOk(await getCommand(srv, first)).command;
         assert.equal(c1.status, 'SUPERSEDED');
         assert.match(c1.finishedAt, TIME_RE);
         assertError(await report(srv, site.agentToken, first, 'ACKNOWLEDGED'),
                     409, 'INVALID_TRANSITION');
         assert.deepEqual(assertOk(await getCommand(srv, first)).command, c1);
         const ack = assertOk(await report(srv, site.agentToken, second,
                                           'ACKNOWLEDGED')).command;
         assert.equal(ack.status, 'ACKNOWLEDGED');
         const loc = await findLocation(srv, site.location.id);
         assert.equal(loc.serverNode.targetVersion, rel2.version);

         // An acknowledged command is not superseded by a newer deploy.
         const rel3 = await release();
         const third = assertOk(await deploy(srv, rel3.id,
                                             [site.location.id]))
             .results[0].commandId;
         assert.equal(assertOk(await getCommand(srv, second)).command.status,
                      'ACKNOWLEDGED');
         assert.equal(assertOk(await getCommand(srv, third)).command.status,
                      'PENDING');
     });

test('schema gate: lower or unknown is SCHEMA_TOO_OLD, equal or higher passes',
     async () => {
         const rel = await release({ minSchemaVersion: 42 });
         const unknown = await newSite(srv);
         const lower = await newSite(srv);
         const equal = await newSite(srv);
         const higher = await newSite(srv);
         await reportSchema(lower, 41);
         await reportSchema(equal, 42);
         await reportSchema(higher, 43);
         const ids = [unknown, lower, equal, higher].map((s) => s.location.id);
         const res = await deploy(srv, rel.id, ids);
         const json = assertOk(res, 207);
         assert.deepEqual(json.results.map((r) => r.success),
                          [false, false, true, true]);
         assert.deepEqual(json.results.slice(0, 2).map((r) => r.error.code),
                          ['SCHEMA_TOO_OLD', 'SCHEMA_TOO_OLD']);
         assertResult(json.results[2], equal.location.id, true);
         assertResult(json.results[3], higher.location.id, true);
         // The gated nodes got no command and no target version.
         for (const s of [unknown, lower]) {
             const loc = await findLocation(srv, s.location.id);
             assert.equal(loc.serverNode.targetVersion, null);
         }
         // All gated: 422. minSchemaVersion 0 passes any reported schema
         // but not an unknown one.
         assert.equal((await deploy(srv, rel.id, ids.slice(0, 2))).status, 422);
         const zero = await release({ minSchemaVersion: 0 });
         const z = assertOk(await deploy(srv, zero.id, ids), 207);
         assert.deepEqual(z.results.map((r) => r.success),
                          [false, true, true, true]);
         // Without a minimum, an unknown schema is fine.
         const free = await release();
         assertOk(await deploy(srv, free.id, ids), 200);
     });

test('archived release 409; bad locationIds 400; 10,000 accepted',
     async () => {
         const site = await newSite(srv);
         const rel = await release();
         const archived = await release();
         assertOk(await api(srv, 'DELETE',
                            `/api/admin/releases/${archived.id}`));
         const auditBefore = (await audit()).length;
         assertError(await deploy(srv, archived.id, [site.location.id]), 409,
                     'RELEASE_ARCHIVED');
         assertError(await deploy(srv, archived.version, [site.location.id]),
                     409, 'RELEASE_ARCHIVED');
         assert.equal((await getRelease(srv, archived.id)).release.deployCount,
                      0);

         const bad = [
             { locationIds: [] },
             {},
             { locationIds: site.location.id },
             { locationIds: [42] },
             { locationIds: [''] },
             { locationIds: [null] },
             { locationIds: Array.from({ length: 10001 },
                                       (_, i) => `loc${i}`) },
         ];
         for (const body of bad) {
             const res = await deploy(srv, rel.id, null, { body });
             const what = JSON.stringify(body).slice(0, 60);
             assert.equal(res.status, 400, `${what}: ${res.text}`);
             assert.equal(res.json.error.code, 'VALIDATION_ERROR', what);
             assert.equal(res.json.error.field, 'locationIds', what);
         }
         // An unknown field is named; the body is validated before the
         // release is looked at, so an archived one answers 400 too.
         assertError(await deploy(srv, rel.id, null, {
             body: { locationIds: [site.location.id], force: true },
         }), 400, 'VALIDATION_ERROR', 'force');
         assertError(await deploy(srv, archived.id, null,
                                  { body: { locationIds: [] } }),
                     400, 'VALIDATION_ERROR', 'locationIds');
         assertError(await api(srv, 'POST',
                               `/api/admin/releases/${rel.id}/deploy`,
                               { rawBody: '{"locationIds": [' }),
                     400, 'INVALID_JSON');
         assert.equal((await getRelease(srv, rel.id)).release.deployCount, 0);
         assert.equal((await audit()).length, auditBefore);

         // 10,000 ids are the most: all unknown here, so 422.
         const many = Array.from({ length: 10000 }, (_, i) =>
             `unknown${String(i).padStart(18, '0')}`);
         const res = await deploy(srv, rel.id, many);
         const json = assertOk(res, 422);
         assert.equal(json.results.length, 10000);
         assert.deepEqual(json.summary, { succeeded: 0, failed: 10000 });
         assert.ok(json.results.every(
             (r) => r.error.code === 'LOCATION_NOT_FOUND'));
     });

test('duplicate location ids are collapsed into one result', async () => {
    const site = await newSite(srv);
    const other = await newSite(srv);
    const rel = await release();
    const res = await deploy(srv, rel.id, [
        site.location.id, other.location.id, site.location.id,
        site.location.id,
    ]);
    const json = assertOk(res, 200);
    assert.deepEqual(json.results.map((r) => r.locationId),
                     [site.location.id, other.location.id]);
    assert.deepEqual(json.summary, { succeeded: 2, failed: 0 });
    const detail = await getRelease(srv, rel.id);
    assert.equal(detail.release.deployCount, 2);
    const entries = (await audit()).filter(
        (e) => e.action === 'release.deploy' && e.targetId === rel.id);
    assert.equal(entries.length, 2);
});

test('deployCount in the list; deployments newest first with who and where',
     async () => {
         const admin = await makeUser(srv, { role: 'org_admin' });
         const a = await newSite(srv, srv.token, { name: 'Alpha Bar' });
         const b = await newSite(srv, srv.token, { name: 'Beta Cafe' });
         const rel = await release();
         const ids = [];
         ids.push(assertOk(await deploy(srv, rel.id, [a.location.id]))
             .results[0].commandId);
         ids.push(assertOk(await deploy(srv, rel.id, [b.location.id], {
             token: admin.token,
         })).results[0].commandId);
         // Superseded commands still count.
         ids.push(assertOk(await deploy(srv, rel.id, [a.location.id]))
             .results[0].commandId);
         assert.equal(assertOk(await getCommand(srv, ids[0])).command.status,
                      'SUPERSEDED');

         const listed = (await listReleases(srv)).find((r) => r.id === rel.id);
         assert.equal(listed.deployCount, 3);
         const { release: r, deployments } = await getRelease(srv,
                                                              rel.version);
         assert.equal(r.deployCount, 3);
         assert.deepEqual(deployments.map((d) => d.id), [...ids].reverse());
         const me = assertOk(await api(srv, 'GET', '/api/auth/me')).user;
         const [d3, d2, d1] = deployments;
         assert.equal(d1.status, 'SUPERSEDED');
         assert.equal(d3.status, 'PENDING');
         assert.equal(d3.locationId, a.location.id);
         assert.equal(d3.locationName, 'Alpha Bar');
         assert.equal(d3.serverNodeId, a.node.id);
         assert.equal(d3.serverNodeName, 'pos-1');
         assert.equal(d3.createdById, me.id);
         assert.equal(d3.createdByName, me.name);
         assert.equal(d2.locationId, b.location.id);
         assert.equal(d2.locationName, 'Beta Cafe');
         assert.equal(d2.createdById, admin.user.id);
         assert.ok(d3.seq > d2.seq && d2.seq > d1.seq);
         for (const d of deployments) {
             assert.match(d.createdAt, TIME_RE);
         }
     });

test('idempotent retry answers the first answer and makes nothing',
     async () => {
         const site = await newSite(srv);
         const bare = await createLocation(srv);
         const rel = await release();
         const other = await release();
         const key = `deploy-${nextVersion()}`;
         const ids = [site.location.id, bare.id];
         const first = await deploy(srv, rel.id, ids, {
             headers: { 'Idempotency-Key': key },
         });
         assert.equal(first.status, 207);
         const auditAfterFirst = await audit();
         for (let i = 0; i < 3; i++) {
             const again = await deploy(srv, rel.id, ids, {
                 headers: { 'Idempotency-Key': key },
             });
             assert.equal(again.status, 207);
             assert.deepEqual(again.json, first.json);
         }
         // The release named by version is the same request.
         const byVersion = await deploy(srv, rel.version, ids, {
             headers: { 'Idempotency-Key': key },
         });
         assert.equal(byVersion.status, 207, byVersion.text);
         assert.deepEqual(byVersion.json, first.json);
         assert.equal((await getRelease(srv, rel.id)).release.deployCount, 1);
         assert.deepEqual(await audit(), auditAfterFirst);
         const cmd = first.json.results[0].commandId;
         assert.equal(assertOk(await getCommand(srv, cmd)).command.status,
                      'PENDING', 'not superseded by a retry');

         // The same key with another body.
         assertError(await deploy(srv, rel.id, [site.location.id], {
             headers: { 'Idempotency-Key': key },
         }), 409, 'IDEMPOTENCY_KEY_REUSED');
         assertError(await deploy(srv, other.id, ids, {
             headers: { 'Idempotency-Key': key },
         }), 409, 'IDEMPOTENCY_KEY_REUSED');
         assert.equal((await getRelease(srv, other.id)).release.deployCount, 0);
         assert.deepEqual(await audit(), auditAfterFirst);

         // Keys are per user: another admin's same key is a new deploy.
         const admin = await makeUser(srv, { role: 'super_admin' });
         const theirs = await deploy(srv, rel.id, ids, {
             token: admin.token, headers: { 'Idempotency-Key': key },
         });
         assert.equal(theirs.status, 207);
         assert.notEqual(theirs.json.results[0].commandId, cmd);
         assert.equal((await getRelease(srv, rel.id)).release.deployCount, 2);

         // Bad keys.
         for (const bad of ['x'.repeat(201), 'a b']) {
             assertError(await deploy(srv, rel.id, ids, {
                 headers: { 'Idempotency-Key': bad },
             }), 400, 'VALIDATION_ERROR');
         }
         assert.equal((await getRelease(srv, rel.id)).release.deployCount, 2);
         const ok200 = await deploy(srv, rel.id, ids, {
             headers: { 'Idempotency-Key': 'y'.repeat(200) },
         });
         assert.equal(ok200.status, 207);
     });

test('cancel: PENDING and DELIVERED only; cancelled cannot be acknowledged',
     async () => {
         const rel = await release();
         const pending = await newSite(srv);
         const delivered = await newSite(srv);
         const acked = await newSite(srv);
         const res = await deploy(srv, rel.id, [
             pending.location.id, delivered.location.id, acked.location.id,
         ]);
         const [cp, cd, ca] = assertOk(res).results.map((r) => r.commandId);
         for (const [site, id] of [[delivered, cd], [acked, ca]]) {
             const st = await openStream(srv, { token: site.agentToken });
             await st.waitForCommand(id, 3000);
             await st.close();
         }
         assertOk(await report(srv, acked.agentToken, ca, 'ACKNOWLEDGED'));

         for (const [site, id, from] of [[pending, cp, 'PENDING'],
                                         [delivered, cd, 'DELIVERED']]) {
             assert.equal(assertOk(await getCommand(srv, id)).command.status,
                          from);
             const c = assertOk(await api(srv, 'POST',
                                          `/api/admin/commands/${id}/cancel`))
                 .command;
             assert.equal(c.status, 'CANCELLED', from);
             assert.match(c.finishedAt, TIME_RE);
             assertError(await report(srv, site.agentToken, id,
                                      'ACKNOWLEDGED'),
                         409, 'INVALID_TRANSITION');
             assert.deepEqual(assertOk(await getCommand(srv, id)).command, c);
             // Cancelling twice is a conflict too.
             assertError(await api(srv, 'POST',
                                   `/api/admin/commands/${id}/cancel`),
                         409, 'INVALID_TRANSITION');
             // It is not sent again.
             const st = await openStream(srv, { token: site.agentToken });
             await st.waitFor((s) => s.comments.length > 0, 3000, 'keep-alive');
             assert.equal(st.events.length, 0);
             await st.close();
         }
         const before0 = assertOk(await getCommand(srv, ca)).command;
         assertError(await api(srv, 'POST', `/api/admin/commands/${ca}/cancel`),
                     409, 'INVALID_TRANSITION');
         assert.deepEqual(assertOk(await getCommand(srv, ca)).command, before0);
         const nobody = 'zzzzzzzzzzzzzzzzzzzzzzzzz';
         assertError(await api(srv, 'POST',
                               `/api/admin/commands/${nobody}/cancel`),
                     404, 'COMMAND_NOT_FOUND');
         const entries = (await audit()).filter(
             (e) => e.action === 'command.cancel');
         assert.ok(entries.some((e) => e.targetId === cp));
         assert.ok(entries.some((e) => e.targetId === cd));
         assert.ok(!entries.some((e) => e.targetId === ca));
     });

test('organizations are isolated; super_admin sees all', async () => {
    const orgA = await createOrganization(srv, { name: 'Org A' });
    const orgB = await createOrganization(srv, { name: 'Org B' });
    const adminA = await makeUser(srv, {
        role: 'org_admin', organizationId: orgA.id,
    });
    const adminB = await makeUser(srv, {
        role: 'org_admin', organizationId: orgB.id,
    });
    const siteA = await newSite(srv, adminA.token, { name: 'A venue' });
    const siteB = await newSite(srv, adminB.token, { name: 'B venue' });
    assert.equal(siteA.location.organizationId, orgA.id);
    const rel = await release();
    const resA = await deploy(srv, rel.id, [siteA.location.id],
                              { token: adminA.token });
    const cmdA = assertOk(resA).results[0].commandId;

    // B cannot see A's location.
    const seenByB = await listLocations(srv, adminB.token);
    assert.deepEqual(seenByB.map((l) => l.id), [siteB.location.id]);
    const seenByA = await listLocations(srv, adminA.token);
    assert.deepEqual(seenByA.map((l) => l.id), [siteA.location.id]);

    // B's deploy to A's location is LOCATION_NOT_FOUND, as unknown.
    const resB = await deploy(srv, rel.id,
                              [siteA.location.id, siteB.location.id],
                              { token: adminB.token });
    const jb = assertOk(resB, 207);
    assert.equal(jb.results[0].error.code, 'LOCATION_NOT_FOUND');
    const unknownMsg = assertOk(await deploy(srv, rel.id,
                                             ['zzzzzzzzzzzzzzzzzzzzzzzzz'],
                                             { token: adminB.token }), 422)
        .results[0].error;
    assert.equal(jb.results[0].error.message, unknownMsg.message);
    const cmdB = jb.results[1].commandId;
    assert.equal(assertOk(await getCommand(srv, cmdA)).command.status,
                 'PENDING', 'A\'s command not superseded by B');

    // B cannot read or cancel A's command, register at or decommission A.
    assertError(await getCommand(srv, cmdA, adminB.token), 404,
                'COMMAND_NOT_FOUND');
    assertError(await api(srv, 'POST', `/api/admin/commands/${cmdA}/cancel`,
                          { token: adminB.token }), 404, 'COMMAND_NOT_FOUND');
    assertError(await api(srv, 'POST',
                          `/api/admin/locations/${siteA.location.id}/nodes`,
                          { token: adminB.token, body: { name: 'x' } }),
                404, 'LOCATION_NOT_FOUND');
    assertError(await api(srv, 'POST',
                          `/api/admin/nodes/${siteA.node.id}/decommission`,
                          { token: adminB.token }), 404, 'NODE_NOT_FOUND');
    assert.equal(assertOk(await getCommand(srv, cmdA)).command.status,
                 'PENDING');

    // B's node cannot report on A's command.
    assertError(await report(srv, siteB.agentToken, cmdA, 'ACKNOWLEDGED'),
                404, 'COMMAND_NOT_FOUND');

    // Audit: B sees none of A's entries.
    const auditB = await audit(adminB.token);
    assert.ok(auditB.length > 0);
    assert.ok(auditB.every((e) => e.organizationId === orgB.id),
              JSON.stringify(auditB.map((e) => e.organizationId)));
    assert.ok(!auditB.some((e) => JSON.stringify(e).includes(
        siteA.location.id)));
    const auditA = await audit(adminA.token);
    assert.ok(auditA.some((e) => e.action === 'release.deploy' &&
                                 e.details?.commandId === cmdA));

    // Release detail: each sees only its own deployments.
    const detB = assertOk(await api(srv, 'GET',
                                    `/api/admin/releases/${rel.id}`,
                                    { token: adminB.token }));
    assert.deepEqual(detB.deployments.map((d) => d.id), [cmdB]);
    // deployCount counts what the caller may see.
    assert.equal(detB.release.deployCount, 1);
    const detA = assertOk(await api(srv, 'GET',
                                    `/api/admin/releases/${rel.id}`,
                                    { token: adminA.token }));
    assert.deepEqual(detA.deployments.map((d) => d.id), [cmdA]);

    // The super_admin sees all of it.
    const all = await listLocations(srv, srv.token);
    assert.ok(all.some((l) => l.id === siteA.location.id));
    assert.ok(all.some((l) => l.id === siteB.location.id));
    const detS = await getRelease(srv, rel.id);
    assert.deepEqual(detS.deployments.map((d) => d.id), [cmdB, cmdA]);
    assert.equal(detS.release.deployCount, 2);
    assert.equal(assertOk(await getCommand(srv, cmdA)).command.id, cmdA);
    const auditS = await audit();
    assert.ok(auditS.some((e) => e.details?.commandId === cmdA));
    assert.ok(auditS.some((e) => e.details?.commandId === cmdB));
    // A super_admin can deploy to both organizations at once.
    const both = await deploy(srv, rel.id,
                              [siteA.location.id, siteB.location.id]);
    assert.deepEqual(assertOk(both, 200).summary,
                     { succeeded: 2, failed: 0 });
    // An org_member may not deploy or read commands.
    const member = await makeUser(srv, {
        role: 'org_member', organizationId: orgA.id,
    });
    assertError(await deploy(srv, rel.id, [siteA.location.id],
                             { token: member.token }), 403, 'FORBIDDEN');
    assertError(await getCommand(srv, cmdA, member.token), 403, 'FORBIDDEN');
});
