// bootstrap: the first start without preset secrets generates them, prints
// them once on standard output and never logs them.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, assertRequestIds, me, startMcd } from './lib/mcd.mjs';

const EMAIL = 'ops@example.com';
const NO_SECRETS = {
    MC_BOOTSTRAP_TOKEN: undefined, MC_BOOTSTRAP_PASSWORD: undefined,
};

// The words of the output that could be a secret.
function candidates(text) {
    const words = text.split(/[\s"'`=:,;()[\]{}<>]+/);
    return [...new Set(words.filter((w) => w.length >= 8))].slice(0, 100);
}

async function findToken(srv, text) {
    for (const word of candidates(text)) {
        const res = await api(srv, 'GET', '/api/auth/me', { token: word });
        if (res.status === 200) {
            return word;
        }
    }
    return null;
}

async function findPassword(srv, text) {
    for (const word of candidates(text)) {
        const res = await api(srv, 'POST', '/api/auth/login', {
            token: null, body: { email: EMAIL, password: word },
        });
        if (res.status === 200) {
            return word;
        }
    }
    return null;
}

describe('bootstrap', () => {
    let first;
    let second;
    let token;
    let password;

    after(async () => {
        await first?.stop();
        await second?.stop();
    });

    test('generated secrets are printed on stdout and work', async () => {
        first = await startMcd({ email: EMAIL, env: NO_SECRETS });
        token = await findToken(first, first.stdout());
        assert.ok(token, `no working token on stdout:\n${first.stdout()}`);
        assert.ok(token.length >= 16, token);
        const who = await me(first, token);
        assert.equal(who.user.email, EMAIL);
        assert.equal(who.user.role, 'super_admin');
        assert.equal(who.organization.name, 'Default organization');
        password = await findPassword(first, first.stdout());
        assert.ok(password, `no working password on stdout:\n${
            first.stdout()}`);
    });

    test('generated secrets are not logged', (t) => {
        if (!password) {
            t.skip('the first start failed');
            return;
        }
        assert.ok(!first.logs().includes(token), 'token in the log');
        assert.ok(!first.logs().includes(password), 'password in the log');
    });

    test('a restart prints no secrets and keeps the old ones', async (t) => {
        if (!password) {
            t.skip('the first start failed');
            return;
        }
        assert.equal(await first.stop(), 0);
        second = await startMcd({
            dir: first.dir, email: EMAIL, env: NO_SECRETS,
        });
        assert.ok(!second.stdout().includes(token));
        assert.ok(!second.stdout().includes(password));
        assert.equal(await findToken(second, second.stdout()), null,
                     `a new token on stdout:\n${second.stdout()}`);
        const who = await me(second, token);
        assert.equal(who.user.email, EMAIL);
    });

    test('a bootstrap token under 16 characters is refused', async () => {
        let srv;
        try {
            srv = await startMcd({ token: 'short-token' });
        } catch (err) {
            assert.match(err.message, /exited/);
            return;
        }
        await srv.stop();
        assert.fail('mcd started with an 11-character bootstrap token');
    });

    test('every response had its own X-Request-Id', () => {
        for (const srv of [first, second].filter(Boolean)) {
            assertRequestIds(srv);
        }
    });
});
