// The documentation's shell sessions, run as written against a real mcd:
// the README's curl session and docs/walkthrough.md. Only the address is
// changed, to the test server's free port.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { startMcd } from './lib/mcd.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '..', '..');
const DEMO_TOKEN = 'mc_demo_token_change_me_0001';

function shBlocks(file) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    return [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

function bash(script, srv) {
    const res = spawnSync('bash', ['-euo', 'pipefail', '-c',
        script.replaceAll('http://127.0.0.1:8080', srv.url)],
    { encoding: 'utf8', timeout: 30000 });
    assert.equal(res.status, 0, `script failed:\n${script}\n${res.stderr}`);
    return res.stdout;
}

let srv;
before(async () => {
    srv = await startMcd({ token: DEMO_TOKEN });
});
after(() => srv?.stop());

test('README curl session works as written', () => {
    const [, session] = shBlocks('README.md');
    const out = bash(session, srv);
    const answers = out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(answers[0].release.version, '1.4.0');
    assert.equal(answers[1].releases[0].version, '1.4.0');
    assert.deepEqual(answers[2].deployments, []);
    assert.equal(answers[3].release.isArchived, true);
    assert.deepEqual(answers[4].entries.slice(0, 2).map((e) => e.action),
        ['release.archive', 'release.create']);
});

test('walkthrough: a deploy reaches a curl -N stream', async () => {
    const [setup, stream, deploy, report] = shBlocks('docs/walkthrough.md');
    const env = bash(setup +
        '\necho "AGENT_TOKEN=$AGENT_TOKEN LOC=$LOC"\n', srv)
        .trim().split('\n').pop();
    const node = spawn('bash', ['-c', `export ${env} ` +
        `MC_URL=${srv.url}\n${stream}`], { detached: true });
    let events = '';
    node.stdout.on('data', (d) => { events += d; });
    try {
        await waitFor(() => events.includes('retry:'));
        const header = setup.split('# a release')[0];
        const deployed = bash(`${header}export ${env}\n${deploy}`, srv);
        assert.equal(JSON.parse(deployed).summary.succeeded, 1);
        await waitFor(() => events.includes('event: command'));
        assert.match(events, /"version":"2\.0\.0"/);
        const out = bash(`${header}export ${env}\n${report}`, srv);
        assert.match(out, /'currentVersion': '2\.0\.0'/);
        assert.match(out, /"status":"SUCCEEDED"/);
    } finally {
        process.kill(-node.pid, 'SIGKILL');
    }
});

async function waitFor(pred, ms = 5000) {
    const end = Date.now() + ms;
    while (!pred()) {
        assert.ok(Date.now() < end, 'timed out');
        await new Promise((r) => setTimeout(r, 50));
    }
}
