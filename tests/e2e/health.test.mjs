// health: liveness and the request id that ties answers to log lines.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, assertError, assertRequestIds, startMcd } from './lib/mcd.mjs';

const KEY_VALUE_LINE =
    /^([\w.-]+=("(?:[^"\\]|\\.)*"|[^\s"]*)(\s+|$))+$/;

describe('health', () => {
    let srv;

    before(async () => {
        srv = await startMcd();
    });

    after(() => srv?.stop());

    test('GET /healthz answers ok without credentials', async () => {
        const res = await api(srv, 'GET', '/healthz', { token: null });
        assert.equal(res.status, 200, res.text);
        assert.match(res.headers.get('content-type'), /^application\/json/);
        assert.deepEqual(res.json, { status: 'ok' });
    });

    test('GET /healthz answers ok with a token too', async () => {
        const res = await api(srv, 'GET', '/healthz');
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.json, { status: 'ok' });
    });

    test('the X-Request-Id of an answer is on a log line', async () => {
        const res = await api(srv, 'GET', '/api/admin/releases');
        assert.equal(res.status, 200, res.text);
        const id = res.headers.get('x-request-id');
        assert.ok(id, 'no X-Request-Id');
        // The log line may be written just after the answer.
        const deadline = Date.now() + 2000;
        while (!srv.logs().includes(id) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 50));
        }
        const lines = srv.logs().split('\n').filter((l) => l.includes(id));
        assert.ok(lines.length > 0, `request id ${id} not in the log`);
        for (const line of lines) {
            assert.match(line, KEY_VALUE_LINE,
                         `not a key=value line: ${line}`);
        }
    });

    test('errors carry an X-Request-Id too', async () => {
        const res = await api(srv, 'GET', '/api/admin/releases', {
            token: null,
        });
        assertError(res, 401, 'UNAUTHORIZED');
        assert.ok(res.headers.get('x-request-id'));
    });

    test('the bootstrap secrets are never logged', () => {
        assert.ok(!srv.logs().includes(srv.token), 'token in the log');
        assert.ok(!srv.logs().includes(srv.password), 'password in the log');
    });

    test('every response had its own X-Request-Id', () => {
        assertRequestIds(srv);
    });
});
