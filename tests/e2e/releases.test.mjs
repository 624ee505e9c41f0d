// releases: create, validate, list, show, the latest flag, archive.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    ID_RE, TIME_RE, api, assertError, assertOk, assertRequestIds,
    createRelease, getRelease, listReleases, me, startMcd,
} from './lib/mcd.mjs';

const RELEASE_KEYS = [
    'id', 'version', 'channel', 'imageTag', 'imageDigest', 'releaseNotes',
    'minSchemaVersion', 'rollbackVersion', 'isLatest', 'isArchived',
    'createdById', 'createdBy', 'deployCount', 'createdAt', 'updatedAt',
    'archivedAt',
].sort();

const DIGEST = 'sha256:' + 'a1b2c3d4'.repeat(8);

function post(srv, body, token) {
    return api(srv, 'POST', '/api/admin/releases', { token, body });
}

async function assertAbsent(srv, version) {
    const res = await api(srv, 'GET', `/api/admin/releases/${version}`);
    assertError(res, 404, 'RELEASE_NOT_FOUND');
}

// Posts each body, expects 400 VALIDATION_ERROR naming `field`, and that
// the release was not created.
async function assertRejected(srv, field, bodies) {
    for (const body of bodies) {
        const res = await post(srv, body);
        const what = JSON.stringify(body).slice(0, 120);
        assert.equal(res.status, 400, `${what}: ${res.text}`);
        assertError(res, 400, 'VALIDATION_ERROR', field);
        if (typeof body.version === 'string' && /^\d+\.\d+\.\d+$/.test(
            body.version)) {
            await assertAbsent(srv, body.version);
        }
    }
}

function latestOf(list, channel) {
    return list.filter((r) => r.channel === channel && r.isLatest)
        .map((r) => r.version);
}

describe('releases', () => {
    let srv;
    let admin;
    let creator;

    before(async () => {
        srv = await startMcd();
        admin = await me(srv);
        creator = {
            id: admin.user.id, name: admin.user.name, email: admin.user.email,
        };
    });

    after(() => srv?.stop());

    describe('create', () => {
        test('defaults: STABLE, latest, no deploys', async () => {
            const t0 = Date.now();
            const res = await post(srv, {
                version: '0.1.0', imageTag: '0.1.0',
            });
            const rel = assertOk(res, 201).release;
            assert.deepEqual(Object.keys(res.json), ['release']);
            assert.deepEqual(Object.keys(rel).sort(), RELEASE_KEYS);
            assert.match(rel.id, ID_RE);
            assert.equal(rel.version, '0.1.0');
            assert.equal(rel.channel, 'STABLE');
            assert.equal(rel.imageTag, '0.1.0');
            assert.equal(rel.imageDigest, null);
            assert.equal(rel.releaseNotes, '');
            assert.equal(rel.minSchemaVersion, null);
            assert.equal(rel.rollbackVersion, null);
            assert.equal(rel.isLatest, true);
            assert.equal(rel.isArchived, false);
            assert.equal(rel.archivedAt, null);
            assert.equal(rel.deployCount, 0);
            assert.equal(rel.createdById, admin.user.id);
            assert.deepEqual(rel.createdBy, creator);
            assert.equal(typeof rel.createdBy.name, 'string');
            assert.match(rel.createdAt, TIME_RE);
            assert.match(rel.updatedAt, TIME_RE);
            const at = Date.parse(rel.createdAt);
            assert.ok(at >= t0 - 2000 && at <= Date.now() + 2000,
                      `createdAt ${rel.createdAt} is not now`);
        });

        test('every field is echoed', async () => {
            const body = {
                version: '1.4.0', channel: 'STABLE',
                imageTag: 'registry:5000/pos/app:1.4.0', imageDigest: DIGEST,
                releaseNotes: 'Faster checkout.\nÜnïcödé ✓',
                minSchemaVersion: 42,
                rollbackVersion: '1.3.2',
            };
            const rel = assertOk(await post(srv, body), 201).release;
            for (const [k, v] of Object.entries(body)) {
                assert.equal(rel[k], v, k);
            }
            assert.equal(rel.isLatest, true);
            assert.equal(rel.isArchived, false);
            assert.equal(rel.deployCount, 0);
            assert.deepEqual(rel.createdBy, creator);
            const old = await getRelease(srv, '0.1.0');
            assert.equal(old.release.isLatest, false);
        });

        test('a digest-pinned image reference is accepted', async () => {
            const rel = await createRelease(srv, {
                version: '1.3.9', imageTag: `pos/app@${DIGEST}`,
            });
            assert.equal(rel.imageTag, `pos/app@${DIGEST}`);
            assert.equal(rel.isLatest, false);
        });

        test('BETA releases', async () => {
            const rel = await createRelease(srv, {
                version: '1.5.0-beta.1', channel: 'BETA',
            });
            assert.equal(rel.channel, 'BETA');
            assert.equal(rel.isLatest, true);
            assert.equal((await getRelease(srv, '1.4.0')).release.isLatest,
                         true);
        });
    });

    describe('read', () => {
        test('the list is newest first with creator and deploys', async () => {
            const list = await listReleases(srv);
            assert.deepEqual(list.map((r) => r.version),
                             ['1.5.0-beta.1', '1.3.9', '1.4.0', '0.1.0']);
            for (let i = 1; i < list.length; i++) {
                assert.ok(list[i - 1].id > list[i].id, 'ids not decreasing');
            }
            for (const r of list) {
                assert.deepEqual(Object.keys(r).sort(), RELEASE_KEYS);
                assert.deepEqual(r.createdBy, creator);
                assert.equal(r.deployCount, 0);
            }
        });

        test('?channel= filters', async () => {
            const beta = await listReleases(srv, '?channel=BETA');
            assert.deepEqual(beta.map((r) => r.version), ['1.5.0-beta.1']);
            const stable = await listReleases(srv, '?channel=STABLE');
            assert.deepEqual(stable.map((r) => r.version),
                             ['1.3.9', '1.4.0', '0.1.0']);
        });

        test('show by id and by version', async () => {
            const list = await listReleases(srv);
            const listed = list.find((r) => r.version === '1.4.0');
            const byId = await getRelease(srv, listed.id);
            assert.deepEqual(Object.keys(byId).sort(),
                             ['deployments', 'release']);
            assert.deepEqual(byId.release, listed);
            assert.deepEqual(byId.deployments, []);
            const byVersion = await getRelease(srv, '1.4.0');
            assert.deepEqual(byVersion, byId);
            const beta = await getRelease(srv, '1.5.0-beta.1');
            assert.equal(beta.release.channel, 'BETA');
        });

        test('an unknown id or version is 404 RELEASE_NOT_FOUND', async () => {
            for (const ref of ['z'.repeat(25), '9.9.9', 'nope']) {
                const get = await api(srv, 'GET', `/api/admin/releases/${ref}`);
                assertError(get, 404, 'RELEASE_NOT_FOUND');
                const del = await api(srv, 'DELETE',
                                      `/api/admin/releases/${ref}`);
                assertError(del, 404, 'RELEASE_NOT_FOUND');
            }
        });
    });

    describe('validation', () => {
        test('invalid SemVer is 400 on version', async () => {
            const snapshot = await listReleases(srv);
            await assertRejected(srv, 'version', [
                '1.2', '01.2.3', '1.02.3', '1.2.03', '1.2.3-', 'v1.2.3',
                '1.2.3.4', '1.2.3-01', '1.2.3+', '1.2.3-beta..1', ' 1.2.3',
                '1.2.3 ', '1.2.-3', '1.2.3-béta', '1.2.3+meta+meta', '1',
                '-1.2.3', '1.2.3-alpha_1',
            ].map((version) => ({ version, imageTag: 'x' })));
            assert.deepEqual(await listReleases(srv), snapshot);
        });

        test('empty, missing, non-string or long version is 400', async () => {
            const long = '2.0.0-' + 'a'.repeat(123);
            assert.equal(long.length, 129);
            await assertRejected(srv, 'version', [
                { version: '', imageTag: 'x' },
                { imageTag: 'x' },
                { version: 123, imageTag: 'x' },
                { version: null, imageTag: 'x' },
                { version: long, imageTag: 'x' },
            ]);
        });

        test('tricky valid versions are accepted', async () => {
            const versions = [
                '1.0.0-x-y-z.--', '1.0.0+21AF26D3----117B344092BD',
                '1.0.0-0A.is.legal', '1.1.2-prerelease+meta', '0.0.4',
                '1.0.0-alpha.beta.1', '0.0.5-' + 'a'.repeat(122),
            ];
            for (const version of versions) {
                const rel = await createRelease(srv, { version });
                assert.equal(rel.version, version);
                assert.equal(rel.isLatest, false, version);
            }
            assert.equal(versions.at(-1).length, 128);
            const got = await getRelease(srv, '1.0.0-x-y-z.--');
            assert.equal(got.release.version, '1.0.0-x-y-z.--');
        });

        test('a bad channel is 400 on channel', async () => {
            await assertRejected(srv, 'channel', [
                'stable', 'ALPHA', 'Stable', '', 1,
            ].map((channel) => ({ version: '4.0.1', imageTag: 'x', channel })));
        });

        test('a bad imageTag is 400 on imageTag', async () => {
            await assertRejected(srv, 'imageTag', [
                { version: '4.0.2', imageTag: 'UPPER/case:x y' },
                { version: '4.0.2', imageTag: 'app:tag with space' },
                { version: '4.0.2', imageTag: '' },
                { version: '4.0.2', imageTag: 42 },
                { version: '4.0.2' },
            ]);
        });

        test('a bad imageDigest is 400 on imageDigest', async () => {
            await assertRejected(srv, 'imageDigest', [
                'sha256:abc', 'sha256:' + 'A'.repeat(64),
                'sha256:' + 'a'.repeat(65), 'sha256:' + 'g'.repeat(64),
                'md5:' + 'a'.repeat(32), 'a'.repeat(64), '', 7,
            ].map((imageDigest) => ({
                version: '4.0.3', imageTag: '4.0.3', imageDigest,
            })));
        });

        test('a bad minSchemaVersion is 400 on minSchemaVersion', async () => {
            await assertRejected(srv, 'minSchemaVersion', [
                '42', -1, 1.5, 2147483648, true, [],
            ].map((minSchemaVersion) => ({
                version: '4.0.4', imageTag: '4.0.4', minSchemaVersion,
            })));
        });

        test('minSchemaVersion bounds 0 and 2147483647 pass', async () => {
            for (const [version, n] of [['4.0.5', 0], ['4.0.6', 2147483647]]) {
                const rel = await createRelease(srv, {
                    version, minSchemaVersion: n,
                });
                assert.equal(rel.minSchemaVersion, n);
            }
        });

        test('releaseNotes over 65536 bytes is 400', async () => {
            await assertRejected(srv, 'releaseNotes', [
                'n'.repeat(65537), 'é'.repeat(32769), 5,
            ].map((releaseNotes) => ({
                version: '4.0.7', imageTag: '4.0.7', releaseNotes,
            })));
            const notes = 'é'.repeat(32768);
            assert.equal(Buffer.byteLength(notes), 65536);
            const rel = await createRelease(srv, {
                version: '4.0.7', releaseNotes: notes,
            });
            assert.equal(rel.releaseNotes, notes);
        });

        test('a bad rollbackVersion is 400 on rollbackVersion', async () => {
            await assertRejected(srv, 'rollbackVersion', [
                '4.0.9', '4.0.8', '4.0.8+other', '4.0.8-rc.1+b', 'v4.0.0',
                '4.0', 12,
            ].map((rollbackVersion) => ({
                version: '4.0.8-rc.1', imageTag: 'x', rollbackVersion,
            })));
            await assertAbsent(srv, '4.0.8-rc.1');
            const rel = await createRelease(srv, {
                version: '4.0.8', rollbackVersion: '4.0.8-rc.1',
            });
            assert.equal(rel.rollbackVersion, '4.0.8-rc.1');
        });

        test('an unknown field is 400 naming it', async () => {
            await assertRejected(srv, 'colour', [
                { version: '4.0.10', imageTag: 'x', colour: 'blue' },
            ]);
            await assertRejected(srv, 'Version', [
                { version: '4.0.10', Version: '4.0.10', imageTag: 'x' },
            ]);
            await assertAbsent(srv, '4.0.10');
        });
    });

    describe('duplicates', () => {
        test('the same version is 409 VERSION_EXISTS', async () => {
            await createRelease(srv, { version: '3.0.0' });
            const snapshot = await listReleases(srv, '?includeArchived=true');
            for (const body of [
                { version: '3.0.0', imageTag: '3.0.0' },
                { version: '3.0.0', imageTag: 'other' },
                { version: '3.0.0', imageTag: '3.0.0', channel: 'BETA' },
                { version: '3.0.0+build.7', imageTag: '3.0.0' },
            ]) {
                assertError(await post(srv, body), 409, 'VERSION_EXISTS');
            }
            assert.deepEqual(await listReleases(srv, '?includeArchived=true'),
                             snapshot);
        });

        test('1.2.3+build.7 and 1.2.3 collide', async () => {
            const rel = await createRelease(srv, { version: '1.2.3+build.7' });
            assert.equal(rel.version, '1.2.3+build.7');
            const res = await post(srv, { version: '1.2.3', imageTag: 'x' });
            assertError(res, 409, 'VERSION_EXISTS');
            const other = await post(srv, {
                version: '1.2.3+build.8', imageTag: 'x',
            });
            assertError(other, 409, 'VERSION_EXISTS');
        });

        test('a version with build metadata is found by it', async () => {
            const got = await getRelease(srv, '1.2.3+build.7');
            assert.equal(got.release.version, '1.2.3+build.7');
        });

        test('concurrent creates of one version: one wins', async () => {
            const answers = await Promise.all(Array.from(
                { length: 8 }, () => post(srv, {
                    version: '7.7.7', imageTag: '7.7.7',
                })));
            const codes = answers.map((r) => r.status).sort();
            assert.deepEqual(codes, [201, 409, 409, 409, 409, 409, 409, 409]);
            for (const r of answers.filter((x) => x.status === 409)) {
                assertError(r, 409, 'VERSION_EXISTS');
            }
        });

        test('invalid input is 400 even when the version exists', async () => {
            const res = await post(srv, {
                version: '3.0.0', imageTag: 'x', channel: 'NIGHTLY',
            });
            assertError(res, 400, 'VALIDATION_ERROR', 'channel');
        });
    });

    describe('latest and archive', () => {
        const ids = {};

        async function stableLatest() {
            return latestOf(await listReleases(srv), 'STABLE');
        }

        test('a higher version takes the flag', async () => {
            const first = await createRelease(srv, { version: '50.0.0' });
            ids['50.0.0'] = first.id;
            assert.deepEqual(await stableLatest(), ['50.0.0']);
            const rel = await createRelease(srv, { version: '50.1.0' });
            ids['50.1.0'] = rel.id;
            assert.equal(rel.isLatest, true);
            assert.deepEqual(await stableLatest(), ['50.1.0']);
            const old = await getRelease(srv, ids['50.0.0']);
            assert.equal(old.release.isLatest, false);
        });

        test('a lower version created later does not take it', async () => {
            const rel = await createRelease(srv, { version: '50.0.5' });
            ids['50.0.5'] = rel.id;
            assert.equal(rel.isLatest, false);
            assert.deepEqual(await stableLatest(), ['50.1.0']);
        });

        test('a release candidate ranks below its release', async () => {
            const rel = await createRelease(srv, { version: '50.1.0-rc.1' });
            assert.equal(rel.isLatest, false);
            assert.deepEqual(await stableLatest(), ['50.1.0']);
        });

        test('BETA has its own latest', async () => {
            const b1 = await createRelease(srv, {
                version: '60.0.0-beta.1', channel: 'BETA',
            });
            assert.equal(b1.isLatest, true);
            const b0 = await createRelease(srv, {
                version: '55.0.0-beta.1', channel: 'BETA',
            });
            assert.equal(b0.isLatest, false);
            const list = await listReleases(srv);
            assert.deepEqual(latestOf(list, 'BETA'), ['60.0.0-beta.1']);
            assert.deepEqual(latestOf(list, 'STABLE'), ['50.1.0']);
        });

        test('archive answers 200 with the archived release', async () => {
            const id = ids['50.1.0'];
            const res = await api(srv, 'DELETE', `/api/admin/releases/${id}`);
            const json = assertOk(res);
            assert.deepEqual(Object.keys(json), ['release']);
            const rel = json.release;
            assert.equal(rel.id, id);
            assert.equal(rel.version, '50.1.0');
            assert.equal(rel.isArchived, true);
            assert.equal(rel.isLatest, false);
            assert.match(rel.archivedAt ?? '', TIME_RE);
            assert.match(rel.updatedAt, TIME_RE);
            assert.ok(rel.updatedAt >= rel.createdAt);
        });

        test('archiving the latest hands it to the next one down', async () => {
            assert.deepEqual(await stableLatest(), ['50.1.0-rc.1']);
        });

        test('an archived release leaves the list, not the store', async () => {
            const list = await listReleases(srv);
            assert.ok(!list.some((r) => r.version === '50.1.0'));
            const all = await listReleases(srv, '?includeArchived=true');
            const archived = all.find((r) => r.version === '50.1.0');
            assert.ok(archived, 'not in ?includeArchived=true');
            assert.equal(archived.isArchived, true);
            assert.equal(all.length, list.length + 1);
            const byId = await getRelease(srv, ids['50.1.0']);
            assert.equal(byId.release.isArchived, true);
            assert.deepEqual(byId.deployments, []);
            const byVersion = await getRelease(srv, '50.1.0');
            assert.equal(byVersion.release.id, ids['50.1.0']);
        });

        test('archiving again is 409 RELEASE_ARCHIVED', async () => {
            for (const ref of [ids['50.1.0'], '50.1.0']) {
                const res = await api(srv, 'DELETE',
                                      `/api/admin/releases/${ref}`);
                assertError(res, 409, 'RELEASE_ARCHIVED');
            }
        });

        test('an archived version cannot be created again', async () => {
            const res = await post(srv, { version: '50.1.0', imageTag: 'x' });
            assertError(res, 409, 'VERSION_EXISTS');
        });

        test('a release below the archived one may take it', async () => {
            const rel = await createRelease(srv, { version: '50.1.0-rc.2' });
            assert.equal(rel.isLatest, true);
            assert.deepEqual(await stableLatest(), ['50.1.0-rc.2']);
        });

        test('archiving one that is not latest keeps the flag', async () => {
            const res = await api(srv, 'DELETE',
                                  `/api/admin/releases/${ids['50.0.0']}`);
            assertOk(res);
            assert.deepEqual(await stableLatest(), ['50.1.0-rc.2']);
        });

        test('archive by version; BETA hands its flag down', async () => {
            const res = await api(srv, 'DELETE',
                                  '/api/admin/releases/60.0.0-beta.1');
            assert.equal(assertOk(res).release.version, '60.0.0-beta.1');
            const list = await listReleases(srv);
            assert.deepEqual(latestOf(list, 'BETA'), ['55.0.0-beta.1']);
            assert.deepEqual(latestOf(list, 'STABLE'), ['50.1.0-rc.2']);
        });

        test('concurrent creates leave one latest per channel', async () => {
            const versions = Array.from({ length: 8 }, (_, i) => `70.0.${i}`);
            await Promise.all(versions.map((v) => createRelease(srv, {
                version: v,
            })));
            assert.deepEqual(await stableLatest(), ['70.0.7']);
        });

        test('archived releases are never latest', async () => {
            const all = await listReleases(srv, '?includeArchived=true');
            for (const r of all.filter((x) => x.isArchived)) {
                assert.equal(r.isLatest, false, r.version);
            }
            assert.equal(all.filter((r) => r.isLatest).length, 2);
        });
    });

    describe('paging', () => {
        test('?limit and ?before page through the list', async () => {
            const all = await listReleases(srv);
            assert.ok(all.length >= 5);
            const first = await listReleases(srv, '?limit=2');
            assert.deepEqual(first, all.slice(0, 2));
            const next = await listReleases(
                srv, `?limit=2&before=${first[1].id}`);
            assert.deepEqual(next, all.slice(2, 4));
            const max = await listReleases(srv, '?limit=1000');
            assert.deepEqual(max, all);
        });

        test('a bad query is 400 INVALID_QUERY', async () => {
            for (const q of ['?limit=0', '?limit=1001', '?limit=abc',
                             '?limit=-1', '?channel=bogus']) {
                const res = await api(srv, 'GET', `/api/admin/releases${q}`);
                assertError(res, 400, 'INVALID_QUERY');
            }
        });
    });

    test('every response had its own X-Request-Id', () => {
        assertRequestIds(srv);
    });
});
