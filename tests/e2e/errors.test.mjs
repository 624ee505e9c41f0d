// errors: bad bodies, media types, sizes, routes and methods. Each error
// is JSON with a code and a message, and changes nothing.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    api, assertError, assertOk, assertRequestIds, createRelease,
    listReleases, rawRequest, startMcd,
} from './lib/mcd.mjs';

const RELEASES = '/api/admin/releases';
const MIB = 1024 * 1024;

// A JSON release body of exactly `size` bytes, padded in releaseNotes.
function paddedBody(version, size) {
    const base = JSON.stringify({ version, imageTag: 'x', releaseNotes: '' });
    return base.replace('"releaseNotes":""', `"releaseNotes":"${
        'n'.repeat(size - base.length)}"`);
}

describe('errors', () => {
    let srv;
    let snapshot;

    async function assertUnchanged() {
        const now = await listReleases(srv, '?includeArchived=true');
        assert.deepEqual(now, snapshot, 'the release list changed');
    }

    before(async () => {
        srv = await startMcd();
        await createRelease(srv, { version: '1.0.0' });
        const old = await createRelease(srv, { version: '0.9.0' });
        assertOk(await api(srv, 'DELETE', `${RELEASES}/${old.id}`));
        await createRelease(srv, { version: '1.1.0-beta.1', channel: 'BETA' });
        snapshot = await listReleases(srv, '?includeArchived=true');
    });

    after(() => srv?.stop());

    describe('bodies', () => {
        test('malformed JSON is 400 INVALID_JSON', async () => {
            for (const rawBody of [
                '{"version": ',
                '{version: "9.0.0", imageTag: "x"}',
                '{\'version\': \'9.0.0\'}',
                '{"version": "9.0.0", "imageTag": "x",}',
                '{"version": "9.0.0", "imageTag": "x"} trailing',
                '{"version": "9.0.0", "imageTag": "x"}{}',
                Buffer.from('{"version": "9.0.0", "imageTag": "\xff"}',
                            'latin1'),
            ]) {
                const res = await api(srv, 'POST', RELEASES, { rawBody });
                assertError(res, 400, 'INVALID_JSON');
            }
            await assertUnchanged();
        });

        test('a JSON body that is not an object is 400', async () => {
            for (const rawBody of [
                '[]', '[{"version": "9.0.0", "imageTag": "x"}]', '42',
                '"9.0.0"', 'null', 'true',
            ]) {
                const res = await api(srv, 'POST', RELEASES, { rawBody });
                assertError(res, 400);
                assert.ok(['INVALID_JSON', 'VALIDATION_ERROR']
                    .includes(res.json.error.code), `${rawBody}: ${res.text}`);
            }
            await assertUnchanged();
        });

        test('a duplicate key is 400', async () => {
            const res = await api(srv, 'POST', RELEASES, {
                rawBody: '{"version": "9.0.5", "version": "9.0.6", '
                    + '"imageTag": "x"}',
            });
            assertError(res, 400);
            await assertUnchanged();
        });

        test('an empty body is 400', async () => {
            const res = await api(srv, 'POST', RELEASES, { rawBody: '' });
            assertError(res, 400);
            assert.ok(['INVALID_JSON', 'VALIDATION_ERROR']
                .includes(res.json.error.code), res.text);
            await assertUnchanged();
        });

        test('an empty object is 400 VALIDATION_ERROR', async () => {
            const res = await api(srv, 'POST', RELEASES, { body: {} });
            assertError(res, 400, 'VALIDATION_ERROR');
            assert.ok(['version', 'imageTag'].includes(res.json.error.field),
                      res.text);
            await assertUnchanged();
        });
    });

    describe('media types', () => {
        const body = JSON.stringify({ version: '9.0.0', imageTag: 'x' });

        test('text/plain with a body is 415', async () => {
            for (const type of ['text/plain', 'text/plain; charset=utf-8',
                                'application/x-www-form-urlencoded',
                                'application/jsonx', 'application/xml']) {
                const res = await api(srv, 'POST', RELEASES, {
                    rawBody: body, headers: { 'Content-Type': type },
                });
                assertError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
            }
            await assertUnchanged();
        });

        test('a body without Content-Type is 415', async () => {
            const res = await rawRequest(srv, 'POST', RELEASES, { body });
            assertError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
            await assertUnchanged();
        });

        test('application/json; charset=utf-8 is accepted', async () => {
            const res = await api(srv, 'POST', RELEASES, {
                rawBody: JSON.stringify({ version: '1.0.1', imageTag: 'x' }),
                headers: { 'Content-Type': 'application/json; charset=utf-8' },
            });
            assertOk(res, 201);
            snapshot = await listReleases(srv, '?includeArchived=true');
            assert.equal(snapshot[0].version, '1.0.1');
        });
    });

    describe('sizes', () => {
        test('a 2 MiB body is 413', async () => {
            const res = await rawRequest(srv, 'POST', RELEASES, {
                body: paddedBody('9.0.1', 2 * MIB),
                headers: { 'Content-Type': 'application/json' },
            });
            assert.equal(res.status, 413, res.text.slice(0, 300));
            if (res.json) {
                assertError(res, 413, 'BODY_TOO_LARGE');
            }
            await assertUnchanged();
        });

        test('a chunked 2 MiB body is 413', async () => {
            const res = await rawRequest(srv, 'POST', RELEASES, {
                body: paddedBody('9.0.2', 2 * MIB), chunked: true,
                headers: { 'Content-Type': 'application/json' },
            });
            assert.equal(res.status, 413, res.text.slice(0, 300));
            if (res.json) {
                assertError(res, 413, 'BODY_TOO_LARGE');
            }
            await assertUnchanged();
        });

        test('a body just over 1 MiB is 413', async () => {
            const res = await rawRequest(srv, 'POST', RELEASES, {
                body: paddedBody('9.0.3', MIB + 1),
                headers: { 'Content-Type': 'application/json' },
            });
            assert.equal(res.status, 413, res.text.slice(0, 300));
            if (res.json) {
                assertError(res, 413, 'BODY_TOO_LARGE');
            }
            await assertUnchanged();
        });

        test('a body under 1 MiB is read and validated', async () => {
            const res = await api(srv, 'POST', RELEASES, {
                rawBody: paddedBody('9.0.4', 1000000),
            });
            assertError(res, 400, 'VALIDATION_ERROR', 'releaseNotes');
            await assertUnchanged();
        });

        test('the server still answers after refusing big bodies', async () => {
            const res = await api(srv, 'GET', '/healthz');
            assert.deepEqual(assertOk(res), { status: 'ok' });
        });
    });

    describe('routes and methods', () => {
        test('an unknown route is 404 NOT_FOUND', async () => {
            for (const [method, path] of [
                ['GET', '/api/nope'],
                ['GET', '/api/admin/releasesx'],
                ['GET', '/nope/at/all'],
                ['GET', `${RELEASES}/1.0.0/nope`],
                ['POST', '/api/admin/nothing'],
            ]) {
                const res = await api(srv, method, path, {
                    body: method === 'POST' ? {} : undefined,
                });
                assertError(res, 404, 'NOT_FOUND');
            }
            await assertUnchanged();
        });

        test('a wrong method is 405 with an Allow header', async () => {
            const id = snapshot[0].id;
            for (const [method, path, allowed] of [
                ['PUT', RELEASES, ['GET', 'POST']],
                ['DELETE', RELEASES, ['GET', 'POST']],
                ['PATCH', `${RELEASES}/${id}`, ['GET', 'DELETE']],
                ['PUT', `${RELEASES}/${id}`, ['GET', 'DELETE']],
                ['POST', '/healthz', ['GET']],
            ]) {
                const res = await api(srv, method, path, {
                    body: method === 'DELETE' ? undefined : { version: 'x' },
                });
                assertError(res, 405, 'METHOD_NOT_ALLOWED');
                const allow = (res.headers.get('allow') || '')
                    .split(',').map((m) => m.trim()).filter(Boolean);
                for (const m of allowed) {
                    assert.ok(allow.includes(m),
                              `${method} ${path}: Allow "${allow}" lacks ${m}`);
                }
                assert.ok(!allow.includes(method), `Allow has ${method}`);
            }
            await assertUnchanged();
        });
    });

    test('every error answer had an X-Request-Id', () => {
        assertRequestIds(srv);
    });
});
