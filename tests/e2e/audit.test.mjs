// audit: who did what, newest first, scoped to the caller's organization.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    ID_RE, TIME_RE, api, assertError, assertOk, assertRequestIds,
    createOrganization, createRelease, makeUser, me, startMcd,
} from './lib/mcd.mjs';

const ENTRY_KEYS = [
    'id', 'organizationId', 'adminUserId', 'actor', 'action', 'targetType',
    'targetId', 'details', 'createdAt',
].sort();

async function audit(srv, token, query = '') {
    const res = await api(srv, 'GET', `/api/admin/audit${query}`, { token });
    return assertOk(res).entries;
}

function actorOf(u) {
    return { id: u.id, name: u.name, email: u.email };
}

describe('audit', () => {
    let srv;
    let admin; // super_admin of the default organization
    let orgA; // the default organization
    let orgB; // a second organization, with an externalId
    let adminA; // org_admin of orgA
    let adminB; // org_admin of orgB
    let rel; // release 1.0.0, made and archived by the super_admin

    before(async () => {
        srv = await startMcd();
        admin = await me(srv);
        orgA = admin.organization;
        rel = await createRelease(srv, { version: '1.0.0' });
        const res = await api(srv, 'DELETE', `/api/admin/releases/${rel.id}`);
        assertOk(res);
        orgB = await createOrganization(srv, {
            name: 'Org B', externalId: 'ext-org-b',
        });
        adminA = await makeUser(srv, { role: 'org_admin' });
        adminB = await makeUser(srv, {
            role: 'org_admin', organizationId: 'ext-org-b',
        });
    });

    after(() => srv?.stop());

    test('release.create and release.archive, newest first', async () => {
        const entries = await audit(srv);
        const mine = entries.filter((e) => e.targetId === rel.id);
        assert.deepEqual(mine.map((e) => e.action),
                         ['release.archive', 'release.create']);
        for (const e of mine) {
            assert.deepEqual(Object.keys(e).sort(), ENTRY_KEYS);
            assert.match(e.id, ID_RE);
            assert.equal(e.organizationId, orgA.id);
            assert.equal(e.adminUserId, admin.user.id);
            assert.deepEqual(e.actor, actorOf(admin.user));
            assert.equal(e.targetType, 'release');
            assert.match(e.createdAt, TIME_RE);
            assert.equal(typeof e.details, 'object');
        }
        assert.ok(mine[0].id > mine[1].id);
    });

    test('the list is ordered newest first by id', async () => {
        const entries = await audit(srv);
        for (let i = 1; i < entries.length; i++) {
            assert.ok(entries[i - 1].id > entries[i].id,
                      `${entries[i - 1].id} before ${entries[i].id}`);
            assert.ok(entries[i - 1].createdAt >= entries[i].createdAt);
        }
    });

    test('organization, user and token changes are audited', async () => {
        const entries = await audit(srv);
        const find = (action, targetId) => entries.find(
            (e) => e.action === action && e.targetId === targetId);
        const org = find('organization.create', orgB.id);
        assert.ok(org, 'no organization.create');
        assert.equal(org.adminUserId, admin.user.id);
        assert.equal(org.targetType, 'organization');
        const user = find('user.create', adminB.user.id);
        assert.ok(user, 'no user.create');
        assert.equal(user.adminUserId, admin.user.id);
        const token = entries.find((e) => e.action === 'token.create' &&
                                   e.adminUserId === adminB.user.id);
        assert.ok(token, 'no token.create');
        assert.equal(token.organizationId, orgB.id);
        for (const e of entries) {
            assert.ok(!JSON.stringify(e).includes(adminB.token),
                      'a token secret is in the audit');
            assert.ok(!JSON.stringify(e).includes(adminB.password),
                      'a password is in the audit');
        }
    });

    test('token.revoke is audited', async () => {
        const other = await makeUser(srv, { role: 'org_member' });
        const list = assertOk(await api(srv, 'GET', '/api/admin/tokens',
                                        { token: other.token }));
        const id = list.apiTokens[0].id;
        assertOk(await api(srv, 'DELETE', `/api/admin/tokens/${id}`,
                           { token: other.token }));
        const entries = await audit(srv);
        assert.equal(entries[0].action, 'token.revoke');
        assert.equal(entries[0].targetId, id);
        assert.equal(entries[0].adminUserId, other.user.id);
        assert.equal(entries[0].organizationId, orgA.id);
    });

    test('an org_admin of another organization sees none of it', async () => {
        const entries = await audit(srv, adminB.token);
        assert.ok(entries.length > 0, 'adminB sees not even its own token');
        for (const e of entries) {
            assert.equal(e.organizationId, orgB.id, JSON.stringify(e));
            assert.notEqual(e.targetId, rel.id);
        }
    });

    test('entries carry the internal organization id', async () => {
        const created = await createRelease(srv, { version: '2.0.0' },
                                            adminB.token);
        const theirs = await audit(srv, adminB.token);
        assert.equal(theirs[0].action, 'release.create');
        assert.equal(theirs[0].targetId, created.id);
        assert.equal(theirs[0].organizationId, orgB.id);
        assert.notEqual(theirs[0].organizationId, 'ext-org-b');
        assert.equal(theirs[0].adminUserId, adminB.user.id);
        assert.deepEqual(theirs[0].actor, actorOf(adminB.user));
        const all = await audit(srv);
        assert.deepEqual(all[0], theirs[0]);
    });

    test('an org_admin sees its own organization only', async () => {
        const entries = await audit(srv, adminA.token);
        assert.ok(entries.some((e) => e.targetId === rel.id));
        for (const e of entries) {
            assert.equal(e.organizationId, orgA.id, JSON.stringify(e));
        }
    });

    test('an org_member may not read the audit', async () => {
        const member = await makeUser(srv, { role: 'org_member' });
        const res = await api(srv, 'GET', '/api/admin/audit', {
            token: member.token,
        });
        assertError(res, 403, 'FORBIDDEN');
    });

    test('failed requests write no entry', async () => {
        const snapshot = await audit(srv);
        const dup = { version: '2.0.0', imageTag: 't' };
        const attempts = [
            ['POST', '/api/admin/releases', dup],
            ['POST', '/api/admin/releases', { version: '2.0', imageTag: '' }],
            ['DELETE', `/api/admin/releases/${rel.id}`],
            ['DELETE', '/api/admin/releases/9.9.9'],
            ['POST', '/api/admin/organizations', {
                name: 'Dup', externalId: 'ext-org-b',
            }],
        ];
        for (const [method, path, body] of attempts) {
            const res = await api(srv, method, path, { body });
            assert.ok(res.status >= 400, `${method} ${path}: ${res.status}`);
        }
        const badToken = await api(srv, 'POST', '/api/admin/releases', {
            token: adminB.token.slice(0, -1),
            body: { version: '7.0.0', imageTag: 'x' },
        });
        assertError(badToken, 401, 'UNAUTHORIZED');
        assert.deepEqual(await audit(srv), snapshot);
    });

    test('?limit and ?before page through the entries', async () => {
        const all = await audit(srv);
        assert.ok(all.length >= 4);
        const first = await audit(srv, undefined, '?limit=2');
        assert.deepEqual(first, all.slice(0, 2));
        const next = await audit(srv, undefined,
                                 `?limit=2&before=${first[1].id}`);
        assert.deepEqual(next, all.slice(2, 4));
        for (const q of ['?limit=0', '?limit=1001', '?limit=x']) {
            const res = await api(srv, 'GET', `/api/admin/audit${q}`);
            assertError(res, 400, 'INVALID_QUERY');
        }
    });

    test('every response had its own X-Request-Id', () => {
        assertRequestIds(srv);
    });
});
