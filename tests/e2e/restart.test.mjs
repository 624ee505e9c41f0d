// restart: everything made before a clean stop is there after a start on
// the same data, and the first-start bootstrap does not run again.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
    api, assertError, assertOk, assertRequestIds, createOrganization,
    createRelease, listReleases, login, makeUser, me, startMcd,
} from './lib/mcd.mjs';

async function get(srv, pathname, token) {
    return assertOk(await api(srv, 'GET', pathname, { token }));
}

describe('restart', () => {
    let first;
    let second;
    const was = {};

    after(async () => {
        await first?.stop();
        await second?.stop();
    });

    test('the first run makes data', async () => {
        first = await startMcd();
        was.admin = await me(first);
        was.org = await createOrganization(first, {
            name: 'Org R', externalId: 'ext-r',
        });
        was.user = await makeUser(first, {
            role: 'org_admin', organizationId: 'ext-r',
        });
        const old = await createRelease(first, { version: '1.0.0' });
        await createRelease(first, { version: '1.1.0' }, was.user.token);
        await createRelease(first, {
            version: '2.0.0-beta.1', channel: 'BETA',
            imageDigest: 'sha256:' + 'f'.repeat(64), minSchemaVersion: 7,
            rollbackVersion: '1.1.0', releaseNotes: 'beta ✓',
        });
        assertOk(await api(first, 'DELETE', `/api/admin/releases/${old.id}`));

        was.releases = await listReleases(first, '?includeArchived=true');
        assert.equal(was.releases.length, 3);
        was.audit = (await get(first, '/api/admin/audit')).entries;
        assert.ok(was.audit.length >= 6, `${was.audit.length} entries`);
        was.orgs = (await get(first, '/api/admin/organizations'))
            .organizations;
        assert.equal(was.orgs.length, 2);
        was.tokens = (await get(first, '/api/admin/tokens', was.user.token))
            .apiTokens;
    });

    test('the first start makes the signing key', () => {
        was.key = fs.readFileSync(path.join(first.dir, 'server.key'));
        assert.ok(was.key.length > 0);
    });

    test('SIGTERM stops mcd with exit code 0', async () => {
        assert.equal(await first.stop(), 0, first.logs().slice(-2000));
    });

    test('it starts again on the same data', async () => {
        // Fresh bootstrap secrets: they must not be used on a full store.
        second = await startMcd({ dir: first.dir });
        assert.notEqual(second.token, first.token);
        const res = await api(second, 'GET', '/healthz');
        assert.deepEqual(assertOk(res), { status: 'ok' });
    });

    test('the audit is unchanged', async () => {
        const now = await get(second, '/api/admin/audit', first.token);
        assert.deepEqual(now.entries, was.audit);
    });

    test('the bootstrap does not run twice', async () => {
        const fresh = await api(second, 'GET', '/api/auth/me', {
            token: second.token,
        });
        assertError(fresh, 401, 'UNAUTHORIZED');
        const pw = await api(second, 'POST', '/api/auth/login', {
            token: null,
            body: { email: 'admin@example.com', password: second.password },
        });
        assertError(pw, 401, 'UNAUTHORIZED');
        const orgs = await get(second, '/api/admin/organizations',
                               first.token);
        assert.deepEqual(orgs.organizations, was.orgs);
        assert.equal(orgs.organizations.filter(
            (o) => o.name === 'Default organization').length, 1);
    });

    test('the bootstrap token and password still work', async () => {
        const who = await me(second, first.token);
        assert.deepEqual(who, was.admin);
        const s = await login(second, 'admin@example.com', first.password);
        assert.deepEqual(s.user, was.admin.user);
    });

    test('releases are there, archived and latest as before', async () => {
        const now = await listReleases(second, '?includeArchived=true',
                                       first.token);
        assert.deepEqual(now, was.releases);
        const visible = await listReleases(second, '', first.token);
        assert.deepEqual(visible.map((r) => r.version),
                         ['2.0.0-beta.1', '1.1.0']);
        assert.ok(visible.every((r) => r.isLatest));
    });

    test('users and their tokens are there', async () => {
        const who = await me(second, was.user.token);
        assert.deepEqual(who.user, was.user.user);
        assert.equal(who.user.organizationId, was.org.id);
        const s = await login(second, was.user.user.email, was.user.password);
        assert.equal(s.user.id, was.user.user.id);
        const tokens = (await get(second, '/api/admin/tokens',
                                  was.user.token)).apiTokens;
        const strip = (list) => list.map((t) => ({ ...t, lastUsedAt: 0 }));
        assert.deepEqual(strip(tokens), strip(was.tokens));
    });

    test('the signing key is kept', (t) => {
        if (!was.key) {
            t.skip('no key after the first start');
            return;
        }
        const key = fs.readFileSync(path.join(first.dir, 'server.key'));
        assert.deepEqual(key, was.key);
    });

    test('new data follows the old', async () => {
        const rel = await createRelease(second, { version: '1.2.0' },
                                        first.token);
        assert.equal(rel.isLatest, true);
        assert.ok(rel.id > was.releases[0].id, 'ids do not increase');
        const entries = (await get(second, '/api/admin/audit', first.token))
            .entries;
        assert.equal(entries[0].action, 'release.create');
        assert.equal(entries[0].targetId, rel.id);
        assert.deepEqual(entries.slice(1), was.audit);
    });

    test('the second run stops with exit code 0 too', async () => {
        assert.equal(await second.stop(), 0, second.logs().slice(-2000));
    });

    test('no secret is logged', () => {
        for (const srv of [first, second]) {
            for (const secret of [first.token, first.password,
                                  was.user.token, was.user.password]) {
                assert.ok(!srv.logs().includes(secret), 'secret in the log');
            }
        }
    });

    test('every response had its own X-Request-Id', () => {
        assertRequestIds(first);
        assertRequestIds(second);
    });
});
