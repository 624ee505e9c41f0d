// postgres: mcd on a real PostgreSQL — an outage answers 503 and the
// instance recovers by itself when the database returns; several instances
// starting at once on one database migrate it once and share its data.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
    api, assertError, assertOk, createOrganization, createRelease,
    listReleases, startMcd,
} from './lib/mcd.mjs';
import { startPostgres } from './lib/pg.mjs';

// The last --db wins, so this points a harness-started mcd at url.
function onDatabase(url, extra = {}) {
    return { ...extra, args: ['--db', url, ...(extra.args || [])] };
}

async function waitFor(what, fn, ms = 10000) {
    const deadline = Date.now() + ms;
    for (;;) {
        const last = await fn();
        if (last.ok) {
            return last;
        }
        if (Date.now() > deadline) {
            assert.fail(`${what}: still ${JSON.stringify(last)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
    }
}

describe('postgres', () => {
    let pg;
    const servers = [];

    before(async () => {
        pg = await startPostgres();
    });

    after(async () => {
        await Promise.all(servers.map((s) => s.stop()));
        await pg?.stop();
    });

    test('postgres-outage-then-recovery', async () => {
        const srv = await startMcd(onDatabase(await pg.createDatabase('a')));
        servers.push(srv);
        assert.match(srv.logs(), /msg="database open" backend=postgres/);
        await createRelease(srv, { version: '1.0.0' });

        await pg.halt();
        const down = await api(srv, 'GET', '/api/admin/releases');
        assertError(down, 503, 'DATABASE_UNAVAILABLE');
        assert.match(down.json.error.message, /database/);
        assertError(await api(srv, 'GET', '/healthz', { token: null }), 503);
        assert.ok(!srv.logs().includes(srv.token), 'token in the log');

        await pg.start();
        await waitFor('healthz after the database came back', async () => {
            const res = await api(srv, 'GET', '/healthz', { token: null });
            return { ok: res.status === 200, status: res.status };
        });
        const releases = await listReleases(srv);
        assert.deepEqual(releases.map((r) => r.version), ['1.0.0']);
        await createRelease(srv, { version: '1.1.0' });
        assert.match(srv.logs(), /msg="database reconnected"/);
        assert.equal(srv.proc.exitCode, null, 'mcd exited');
    });

    test('postgres-instances-start-together', async () => {
        const url = await pg.createDatabase('b');
        const token = 'shared-bootstrap-token-0123456789';
        const password = 'shared-password-0123';
        const started = await Promise.all([0, 1, 2].map(
            () => startMcd(onDatabase(url, { token, password }))));
        servers.push(...started);
        const [one, two, three] = started;

        const migrated = started.filter(
            (s) => /msg="migration applied"/.test(s.logs()));
        assert.equal(migrated.length, 1, 'exactly one instance migrates');
        const bootstrapped = started.filter(
            (s) => /msg="bootstrap"/.test(s.logs()));
        assert.equal(bootstrapped.length, 1, 'exactly one bootstrap');

        // What one instance writes, the others read.
        const org = await createOrganization(one, { externalId: 'ext-pg' });
        await createRelease(two, { version: '3.0.0' });
        const seen = assertOk(await api(three, 'GET',
                                        '/api/admin/organizations'));
        assert.ok(seen.organizations.some((o) => o.id === org.id));
        assert.deepEqual((await listReleases(one)).map((r) => r.version),
                         ['3.0.0']);
        assertError(await api(three, 'POST', '/api/admin/releases', {
            body: { version: '3.0.0', imageTag: '3.0.0' },
        }), 409);
    });

    test('postgres-bad-url-is-one-clear-line', async () => {
        const url = `postgresql://postgres:s3cret-pw@127.0.0.1:${pg.port}` +
            '/no_such_db';
        await assert.rejects(startMcd(onDatabase(url)), (err) => {
            assert.match(err.message, /mcd: cannot connect to database "no_such_db"/);
            assert.ok(!err.message.includes('s3cret-pw'), 'password shown');
            return true;
        });
    });
});
