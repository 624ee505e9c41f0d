// auth: bearer tokens, roles, dashboard sessions with CSRF, API tokens,
// organizations and users.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    ID_RE, TIME_RE, api, assertError, assertOk, assertRequestIds,
    createOrganization, createRelease, createToken, createUser, listReleases,
    login, makeUser, me, randomSecret, sessionCookie, startMcd, tagFor,
    uniqueEmail,
} from './lib/mcd.mjs';

const USER_KEYS = [
    'createdAt', 'email', 'id', 'name', 'organizationId', 'role',
].sort();
const TOKEN_KEYS = [
    'createdAt', 'id', 'lastUsedAt', 'name', 'revokedAt',
].sort();

function cookieAttributes(setCookie) {
    const attrs = new Map();
    for (const part of setCookie.split(';').slice(1)) {
        const [k, ...v] = part.trim().split('=');
        attrs.set(k.toLowerCase(), v.join('='));
    }
    return attrs;
}

function releaseBody(version) {
    return { version, imageTag: tagFor(version) };
}

describe('auth', () => {
    let srv;
    let admin; // /api/auth/me of the bootstrap token
    let member; // org_member of the default organization
    let orgAdmin; // org_admin of the default organization

    before(async () => {
        srv = await startMcd();
        admin = await me(srv);
        member = await makeUser(srv, { role: 'org_member' });
        orgAdmin = await makeUser(srv, { role: 'org_admin' });
    });

    after(() => srv?.stop());

    describe('bearer tokens', () => {
        test('the bootstrap token is a super_admin', () => {
            assert.equal(admin.user.role, 'super_admin');
            assert.equal(admin.user.email, 'admin@example.com');
            assert.equal(admin.organization.name, 'Default organization');
            assert.equal(admin.user.organizationId, admin.organization.id);
            assert.equal(admin.csrfToken, null);
            assert.deepEqual(Object.keys(admin.user).sort(), USER_KEYS);
        });

        test('no token is 401 UNAUTHORIZED', async () => {
            for (const [method, path] of [
                ['GET', '/api/admin/releases'],
                ['GET', '/api/admin/audit'],
                ['GET', '/api/auth/me'],
                ['GET', '/api/admin/tokens'],
            ]) {
                const res = await api(srv, method, path, { token: null });
                assertError(res, 401, 'UNAUTHORIZED');
            }
            const res = await api(srv, 'POST', '/api/admin/releases', {
                token: null, body: releaseBody('9.0.0'),
            });
            assertError(res, 401, 'UNAUTHORIZED');
            assert.deepEqual(await listReleases(srv), []);
        });

        test('a wrong token is 401 UNAUTHORIZED', async () => {
            for (const token of [randomSecret(32), srv.token + 'x',
                                 srv.token.slice(0, -1)]) {
                const res = await api(srv, 'GET', '/api/admin/releases', {
                    token,
                });
                assertError(res, 401, 'UNAUTHORIZED');
            }
        });

        test('a malformed Authorization header is 401', async () => {
            for (const value of [`Basic ${srv.token}`, 'Bearer', 'Bearer ',
                                 srv.token]) {
                const res = await api(srv, 'GET', '/api/admin/releases', {
                    token: null, headers: { Authorization: value },
                });
                assertError(res, 401, 'UNAUTHORIZED');
            }
        });

        test('an org_member token is 403 FORBIDDEN on releases', async () => {
            const t = member.token;
            assertError(await api(srv, 'GET', '/api/admin/releases',
                                  { token: t }), 403, 'FORBIDDEN');
            assertError(await api(srv, 'POST', '/api/admin/releases',
                                  { token: t, body: releaseBody('9.0.1') }),
                        403, 'FORBIDDEN');
            assertError(await api(srv, 'GET',
                                  '/api/admin/releases/9.0.1',
                                  { token: t }), 403, 'FORBIDDEN');
            assertError(await api(srv, 'DELETE',
                                  '/api/admin/releases/9.0.1',
                                  { token: t }), 403, 'FORBIDDEN');
            assertError(await api(srv, 'GET', '/api/admin/audit',
                                  { token: t }), 403, 'FORBIDDEN');
            assert.deepEqual(await listReleases(srv), []);
        });

        test('an org_member cannot archive an existing release', async () => {
            const rel = await createRelease(srv, { version: '0.0.1' });
            const res = await api(srv, 'DELETE',
                                  `/api/admin/releases/${rel.id}`,
                                  { token: member.token });
            assertError(res, 403, 'FORBIDDEN');
            const again = await api(srv, 'GET',
                                    `/api/admin/releases/${rel.id}`);
            assert.equal(assertOk(again).release.isArchived, false);
        });

        test('an org_member may read its own identity', async () => {
            const res = await me(srv, member.token);
            assert.equal(res.user.id, member.user.id);
            assert.equal(res.user.role, 'org_member');
        });

        test('an org_admin token may create and list releases', async () => {
            const created = await api(srv, 'POST', '/api/admin/releases', {
                token: orgAdmin.token, body: releaseBody('0.1.0'),
            });
            const rel = assertOk(created, 201).release;
            assert.equal(rel.createdById, orgAdmin.user.id);
            assert.equal(rel.createdBy.email, orgAdmin.user.email);
            const list = await listReleases(srv, '', orgAdmin.token);
            assert.ok(list.some((r) => r.id === rel.id));
        });
    });

    describe('sessions', () => {
        test('a wrong password or email is 401, the same answer', async () => {
            const wrongPw = await api(srv, 'POST', '/api/auth/login', {
                token: null,
                body: { email: 'admin@example.com', password: 'not-it-123' },
            });
            assertError(wrongPw, 401, 'UNAUTHORIZED');
            assert.equal(sessionCookie(wrongPw), null);
            const wrongEmail = await api(srv, 'POST', '/api/auth/login', {
                token: null,
                body: { email: 'nobody@example.com', password: srv.password },
            });
            assertError(wrongEmail, 401, 'UNAUTHORIZED');
            assert.equal(sessionCookie(wrongEmail), null);
            assert.deepEqual(wrongEmail.json, wrongPw.json);
        });

        test('login sets an HttpOnly SameSite=Strict cookie', async () => {
            const res = await api(srv, 'POST', '/api/auth/login', {
                token: null,
                body: { email: 'admin@example.com', password: srv.password },
            });
            const json = assertOk(res);
            assert.deepEqual(Object.keys(json).sort(),
                             ['csrfToken', 'organization', 'user']);
            assert.deepEqual(json.user, admin.user);
            assert.deepEqual(json.organization, admin.organization);
            assert.equal(typeof json.csrfToken, 'string');
            assert.ok(json.csrfToken.length >= 16, json.csrfToken);

            const setCookie = sessionCookie(res);
            assert.ok(setCookie, 'no mc_session cookie');
            const value = setCookie.split(';')[0].slice('mc_session='.length);
            assert.ok(value.length >= 16, setCookie);
            const attrs = cookieAttributes(setCookie);
            assert.ok(attrs.has('httponly'), setCookie);
            assert.equal(attrs.get('samesite')?.toLowerCase(), 'strict',
                         setCookie);
            assert.ok(!attrs.has('secure'), `Secure without TLS: ${setCookie}`);
            if (attrs.has('max-age')) {
                assert.equal(attrs.get('max-age'), String(12 * 3600));
            }
            const cookiePath = attrs.get('path');
            assert.ok(cookiePath && '/api/admin/'.startsWith(cookiePath),
                      `cookie not sent to /api/admin: ${setCookie}`);
            assert.ok(!res.text.includes(value), 'session id in the body');
        });

        test('login checks its body', async () => {
            const res = await api(srv, 'POST', '/api/auth/login', {
                token: null, body: { email: 'admin@example.com' },
            });
            assert.ok([400, 401].includes(res.status), res.text);
            assertError(res, res.status);
            assert.equal(sessionCookie(res), null);
        });

        test('/api/auth/me with the cookie', async () => {
            const s = await login(srv, 'admin@example.com', srv.password);
            const res = await api(srv, 'GET', '/api/auth/me', {
                cookie: s.cookie,
            });
            const json = assertOk(res);
            assert.deepEqual(json.user, admin.user);
            assert.deepEqual(json.organization, admin.organization);
            assert.equal(json.csrfToken, s.csrfToken);
        });

        test('a GET with the cookie needs no CSRF token', async () => {
            const s = await login(srv, 'admin@example.com', srv.password);
            const res = await api(srv, 'GET', '/api/admin/releases', {
                cookie: s.cookie,
            });
            assert.ok(Array.isArray(assertOk(res).releases));
        });

        test('a POST with the cookie but no X-CSRF-Token is 403', async () => {
            const s = await login(srv, 'admin@example.com', srv.password);
            const before = await listReleases(srv);
            const res = await api(srv, 'POST', '/api/admin/releases', {
                cookie: s.cookie, body: releaseBody('2.0.0'),
            });
            assertError(res, 403, 'CSRF_FAILED');
            assert.deepEqual(await listReleases(srv), before);
            const look = await api(srv, 'GET',
                                   '/api/admin/releases/2.0.0');
            assertError(look, 404, 'RELEASE_NOT_FOUND');
        });

        test('a wrong X-CSRF-Token is 403 CSRF_FAILED', async () => {
            const s = await login(srv, 'admin@example.com', srv.password);
            const other = await login(srv, orgAdmin.user.email,
                                      orgAdmin.password);
            for (const csrf of [randomSecret(32), other.csrfToken,
                                s.csrfToken + 'x']) {
                const res = await api(srv, 'POST', '/api/admin/releases', {
                    cookie: s.cookie, csrf, body: releaseBody('2.0.0'),
                });
                assertError(res, 403, 'CSRF_FAILED');
            }
            const del = await api(srv, 'DELETE',
                                  '/api/admin/releases/0.0.1',
                                  { cookie: s.cookie });
            assertError(del, 403, 'CSRF_FAILED');
            const look = await api(srv, 'GET', '/api/admin/releases/2.0.0');
            assertError(look, 404, 'RELEASE_NOT_FOUND');
        });

        test('a POST with the cookie and X-CSRF-Token works', async () => {
            const s = await login(srv, 'admin@example.com', srv.password);
            const res = await api(srv, 'POST', '/api/admin/releases', {
                cookie: s.cookie, csrf: s.csrfToken,
                body: releaseBody('2.0.0'),
            });
            const rel = assertOk(res, 201).release;
            assert.equal(rel.version, '2.0.0');
            assert.equal(rel.createdById, admin.user.id);
        });

        test('logout without X-CSRF-Token is 403 CSRF_FAILED', async () => {
            const s = await login(srv, 'admin@example.com', srv.password);
            const res = await api(srv, 'POST', '/api/auth/logout', {
                cookie: s.cookie,
            });
            assertError(res, 403, 'CSRF_FAILED');
            const still = await api(srv, 'GET', '/api/auth/me', {
                cookie: s.cookie,
            });
            assert.equal(still.status, 200, still.text);
        });

        test('logout clears the cookie and ends the session', async () => {
            const s = await login(srv, 'admin@example.com', srv.password);
            const keep = await login(srv, 'admin@example.com', srv.password);
            const res = await api(srv, 'POST', '/api/auth/logout', {
                cookie: s.cookie, csrf: s.csrfToken,
            });
            assert.deepEqual(assertOk(res), { ok: true });
            const cleared = sessionCookie(res);
            assert.ok(cleared, 'logout sets no mc_session cookie');
            const attrs = cookieAttributes(cleared);
            const expires = Date.parse(attrs.get('expires') || '');
            assert.ok(cleared.startsWith('mc_session=;') ||
                      attrs.get('max-age') === '0' || expires < Date.now(),
                      `cookie not cleared: ${cleared}`);

            const gone = await api(srv, 'GET', '/api/auth/me', {
                cookie: s.cookie,
            });
            assertError(gone, 401, 'UNAUTHORIZED');
            const post = await api(srv, 'POST', '/api/admin/releases', {
                cookie: s.cookie, csrf: s.csrfToken,
                body: releaseBody('2.0.1'),
            });
            assertError(post, 401, 'UNAUTHORIZED');
            // Another session of the same user lives on.
            const other = await api(srv, 'GET', '/api/auth/me', {
                cookie: keep.cookie,
            });
            assert.equal(other.status, 200, other.text);
        });

        test('an unknown session cookie is 401', async () => {
            const res = await api(srv, 'GET', '/api/auth/me', {
                cookie: `mc_session=${randomSecret(40)}`,
            });
            assertError(res, 401, 'UNAUTHORIZED');
        });
    });

    describe('API tokens', () => {
        test('a token is shown once, listed without its secret', async () => {
            const s = await login(srv, member.user.email,
                                  member.password);
            const res = await api(srv, 'POST', '/api/admin/tokens', {
                cookie: s.cookie, csrf: s.csrfToken,
                body: { name: 'ci pipeline' },
            });
            const json = assertOk(res, 201);
            assert.deepEqual(Object.keys(json).sort(),
                             ['apiToken', 'token']);
            assert.equal(typeof json.token, 'string');
            assert.ok(json.token.length >= 16, json.token);
            const t = json.apiToken;
            assert.deepEqual(Object.keys(t).sort(), TOKEN_KEYS);
            assert.match(t.id, ID_RE);
            assert.equal(t.name, 'ci pipeline');
            assert.match(t.createdAt, TIME_RE);
            assert.equal(t.lastUsedAt, null);
            assert.equal(t.revokedAt, null);

            const who = await me(srv, json.token);
            assert.equal(who.user.id, member.user.id);

            const list = await api(srv, 'GET', '/api/admin/tokens', {
                token: json.token,
            });
            const tokens = assertOk(list).apiTokens;
            assert.ok(!list.text.includes(json.token), 'secret listed');
            const mine = tokens.find((x) => x.id === t.id);
            assert.ok(mine, 'new token not listed');
            assert.deepEqual(Object.keys(mine).sort(), TOKEN_KEYS);
            assert.equal(mine.name, 'ci pipeline');
            assert.match(mine.lastUsedAt ?? '', TIME_RE,
                         'lastUsedAt not set after use');
            assert.ok(tokens.some((x) => x.id !== t.id),
                      'the token of makeUser() is missing');
            assert.ok(!srv.logs().includes(json.token),
                      'token in the log');
        });

        test('the list has only the caller\'s tokens', async () => {
            const mine = assertOk(await api(srv, 'GET', '/api/admin/tokens',
                                            { token: orgAdmin.token }));
            const theirs = assertOk(await api(srv, 'GET',
                                              '/api/admin/tokens',
                                              { token: member.token }));
            const a = new Set(mine.apiTokens.map((t) => t.id));
            for (const t of theirs.apiTokens) {
                assert.ok(!a.has(t.id), `token ${t.id} listed for both`);
            }
        });

        test('a bearer token may create a token', async () => {
            const res = await api(srv, 'POST', '/api/admin/tokens', {
                token: member.token, body: { name: 'second' },
            });
            const json = assertOk(res, 201);
            const who = await me(srv, json.token);
            assert.equal(who.user.id, member.user.id);
        });

        test('a token needs a name', async () => {
            const res = await api(srv, 'POST', '/api/admin/tokens', {
                token: member.token, body: {},
            });
            assertError(res, 400, 'VALIDATION_ERROR', 'name');
        });

        test('a revoked token is 401', async () => {
            const s = await login(srv, member.user.email, member.password);
            const { token, apiToken } = await createToken(srv, s, 'revoke me');
            assert.equal((await me(srv, token)).user.id, member.user.id);

            const res = await api(srv, 'DELETE',
                                  `/api/admin/tokens/${apiToken.id}`,
                                  { token: member.token });
            const revoked = assertOk(res).apiToken;
            assert.equal(revoked.id, apiToken.id);
            assert.match(revoked.revokedAt ?? '', TIME_RE);

            const use = await api(srv, 'GET', '/api/auth/me', { token });
            assertError(use, 401, 'UNAUTHORIZED');
            const list = assertOk(await api(srv, 'GET', '/api/admin/tokens',
                                            { token: member.token }));
            const listed = list.apiTokens.find((x) => x.id === apiToken.id);
            if (listed) {
                assert.match(listed.revokedAt ?? '', TIME_RE);
            }
        });

        test('another user\'s token is 404 TOKEN_NOT_FOUND', async () => {
            const theirs = assertOk(await api(srv, 'GET',
                                              '/api/admin/tokens',
                                              { token: member.token }));
            const id = theirs.apiTokens[0].id;
            const res = await api(srv, 'DELETE', `/api/admin/tokens/${id}`, {
                token: orgAdmin.token,
            });
            assertError(res, 404, 'TOKEN_NOT_FOUND');
            assert.equal((await me(srv, member.token)).user.id,
                         member.user.id);
            const unknown = await api(srv, 'DELETE',
                                      `/api/admin/tokens/${'z'.repeat(25)}`,
                                      { token: orgAdmin.token });
            assertError(unknown, 404, 'TOKEN_NOT_FOUND');
        });
    });

    describe('organizations and users', () => {
        let orgB;

        test('a super_admin creates an organization', async () => {
            const res = await api(srv, 'POST', '/api/admin/organizations', {
                body: { name: 'Venue Group B', externalId: 'idp-org-b' },
            });
            orgB = assertOk(res, 201).organization;
            assert.deepEqual(Object.keys(orgB).sort(),
                             ['createdAt', 'externalId', 'id', 'name']);
            assert.match(orgB.id, ID_RE);
            assert.notEqual(orgB.id, 'idp-org-b');
            assert.equal(orgB.externalId, 'idp-org-b');
            assert.equal(orgB.name, 'Venue Group B');
            assert.match(orgB.createdAt, TIME_RE);
        });

        test('an organization without externalId has null', async () => {
            const org = await createOrganization(srv, { name: 'No Ext' });
            assert.equal(org.externalId, null);
        });

        test('a duplicate externalId is 409 EXTERNAL_ID_EXISTS', async () => {
            const res = await api(srv, 'POST', '/api/admin/organizations', {
                body: { name: 'Other', externalId: 'idp-org-b' },
            });
            assertError(res, 409, 'EXTERNAL_ID_EXISTS');
            const list = assertOk(await api(srv, 'GET',
                                            '/api/admin/organizations'));
            assert.equal(list.organizations.filter(
                (o) => o.externalId === 'idp-org-b').length, 1);
        });

        test('an organization needs a name', async () => {
            const res = await api(srv, 'POST', '/api/admin/organizations', {
                body: { externalId: 'idp-no-name' },
            });
            assertError(res, 400, 'VALIDATION_ERROR', 'name');
        });

        test('an org_admin cannot create an organization', async () => {
            const res = await api(srv, 'POST', '/api/admin/organizations', {
                token: orgAdmin.token, body: { name: 'Nope' },
            });
            assertError(res, 403, 'FORBIDDEN');
        });

        test('organizations: all for super_admin, own for others', async () => {
            const all = assertOk(await api(srv, 'GET',
                                           '/api/admin/organizations'));
            const ids = all.organizations.map((o) => o.id);
            assert.ok(ids.includes(orgB.id));
            assert.ok(ids.includes(admin.organization.id));
            for (const who of [orgAdmin, member]) {
                const own = assertOk(await api(
                    srv, 'GET', '/api/admin/organizations',
                    { token: who.token }));
                assert.deepEqual(own.organizations.map((o) => o.id),
                                 [admin.organization.id]);
            }
        });

        test('a user named by externalId gets the internal id', async () => {
            const email = uniqueEmail('ext');
            const res = await api(srv, 'POST', '/api/admin/users', {
                body: {
                    email, name: 'Ext Admin', role: 'org_admin',
                    password: 'correct horse', organizationId: 'idp-org-b',
                },
            });
            const user = assertOk(res, 201).user;
            assert.deepEqual(Object.keys(user).sort(), USER_KEYS);
            assert.equal(user.organizationId, orgB.id);
            assert.equal(user.email, email);
            assert.equal(user.name, 'Ext Admin');
            assert.equal(user.role, 'org_admin');
            assert.match(user.id, ID_RE);
            assert.ok(!res.text.includes('correct horse'), 'password echoed');
            const s = await login(srv, email, 'correct horse');
            assert.equal(s.user.organizationId, orgB.id);
            assert.equal(s.organization.id, orgB.id);
            assert.equal(s.organization.externalId, 'idp-org-b');
        });

        test('a user named into an organization by internal id', async () => {
            const user = await createUser(srv, {
                role: 'org_member', organizationId: orgB.id,
            });
            assert.equal(user.organizationId, orgB.id);
        });

        test('a new user defaults to the caller\'s organization', async () => {
            const user = await createUser(srv, { role: 'org_member' },
                                          orgAdmin.token);
            assert.equal(user.organizationId, admin.organization.id);
        });

        test('an org_admin may create org_member and org_admin', async () => {
            for (const role of ['org_member', 'org_admin']) {
                const user = await createUser(srv, { role }, orgAdmin.token);
                assert.equal(user.role, role);
            }
        });

        test('an org_admin cannot create a super_admin (403)', async () => {
            const email = uniqueEmail('boss');
            const res = await api(srv, 'POST', '/api/admin/users', {
                token: orgAdmin.token,
                body: {
                    email, name: 'Boss', role: 'super_admin',
                    password: randomSecret(12),
                },
            });
            assertError(res, 403, 'FORBIDDEN');
            const login401 = await api(srv, 'POST', '/api/auth/login', {
                token: null, body: { email, password: 'whatever1' },
            });
            assertError(login401, 401, 'UNAUTHORIZED');
        });

        test('an org_member cannot create users', async () => {
            const res = await api(srv, 'POST', '/api/admin/users', {
                token: member.token,
                body: {
                    email: uniqueEmail('m'), name: 'M', role: 'org_member',
                    password: randomSecret(12),
                },
            });
            assertError(res, 403, 'FORBIDDEN');
        });

        test('an org_admin naming another organization is 404', async () => {
            for (const organizationId of [orgB.id, 'idp-org-b']) {
                const res = await api(srv, 'POST', '/api/admin/users', {
                    token: orgAdmin.token,
                    body: {
                        email: uniqueEmail('x'), name: 'X',
                        role: 'org_member', password: randomSecret(12),
                        organizationId,
                    },
                });
                assertError(res, 404, 'ORGANIZATION_NOT_FOUND');
            }
        });

        test('an unknown organization is 404', async () => {
            const res = await api(srv, 'POST', '/api/admin/users', {
                body: {
                    email: uniqueEmail('x'), name: 'X',
                    role: 'org_member', password: randomSecret(12),
                    organizationId: 'no-such-org',
                },
            });
            assertError(res, 404, 'ORGANIZATION_NOT_FOUND');
        });

        test('a duplicate email is 409 EMAIL_EXISTS', async () => {
            const res = await api(srv, 'POST', '/api/admin/users', {
                body: {
                    email: member.user.email, name: 'Twin',
                    role: 'org_member', password: randomSecret(12),
                },
            });
            assertError(res, 409, 'EMAIL_EXISTS');
            const upper = await api(srv, 'POST', '/api/admin/users', {
                body: {
                    email: member.user.email.toUpperCase(), name: 'Twin',
                    role: 'org_member', password: randomSecret(12),
                },
            });
            assertError(upper, 409, 'EMAIL_EXISTS');
            const s = await login(srv, member.user.email, member.password);
            assert.equal(s.user.id, member.user.id);
        });

        test('user fields are validated', async () => {
            const good = {
                email: uniqueEmail('v'), name: 'V', role: 'org_member',
                password: randomSecret(12),
            };
            const cases = [
                [{ role: 'root' }, 'role'],
                [{ password: '1234567' }, 'password'],
                [{ password: 'x'.repeat(1025) }, 'password'],
                [{ email: undefined }, 'email'],
                [{ email: 'not-an-email' }, 'email'],
                [{ name: '' }, 'name'],
                [{ unknownField: 1 }, 'unknownField'],
            ];
            for (const [change, field] of cases) {
                const res = await api(srv, 'POST', '/api/admin/users', {
                    body: { ...good, ...change },
                });
                assertError(res, 400, 'VALIDATION_ERROR', field);
            }
            const ok = await api(srv, 'POST', '/api/admin/users', {
                body: { ...good, password: '12345678' },
            });
            assertOk(ok, 201);
        });
    });

    test('no secret is ever logged', () => {
        const logs = srv.logs();
        for (const secret of [srv.token, srv.password, member.token,
                              orgAdmin.token, member.password,
                              member.session.csrfToken,
                              member.session.cookie.split('=')[1]]) {
            assert.ok(!logs.includes(secret), `secret in the log: ${secret}`);
        }
    });

    test('every response had its own X-Request-Id', () => {
        assertRequestIds(srv);
    });
});
