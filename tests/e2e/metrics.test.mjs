// GET /metrics: Prometheus text that follows what the server does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { api, startMcd } from './lib/mcd.mjs';

let srv;
before(async () => {
    srv = await startMcd();
});
after(() => srv?.stop());

function value(text, name) {
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    assert.ok(line, `no ${name} in:\n${text}`);
    return Number(line.split(' ')[1]);
}

test('metrics count requests, nodes, deploys and commands', async () => {
    const first = await fetch(`${srv.url}/metrics`);
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type'), /^text\/plain/);
    const before = await first.text();
    assert.match(before, /# TYPE mc_http_requests_total counter/);

    await api(srv, 'POST', '/api/admin/releases',
        { body: { version: '3.1.0', imageTag: '3.1.0' } });
    const loc = await api(srv, 'POST', '/api/admin/locations',
        { body: { name: 'Metrics bar', timezone: 'UTC' } });
    await api(srv, 'POST',
        `/api/admin/locations/${loc.json.location.id}/nodes`,
        { body: { name: 'm-1' } });
    const dep = await api(srv, 'POST', '/api/admin/releases/3.1.0/deploy',
        { body: { locationIds: [loc.json.location.id] } });
    assert.equal(dep.status, 200);

    const after = await (await fetch(`${srv.url}/metrics`)).text();
    assert.ok(value(after, 'mc_http_requests_total{class="2xx"}') >=
        value(before, 'mc_http_requests_total{class="2xx"}') + 4);
    assert.equal(value(after, 'mc_deploys_total'), 1);
    assert.equal(value(after, 'mc_nodes_active'), 1);
    assert.equal(value(after, 'mc_commands{status="PENDING"}'), 1);
    assert.equal(value(after, 'mc_streams_open'), 0);
});
