// docs/scale-out.md as written: two mcd on one PostgreSQL behind nginx with
// the doc's configuration (only ports and paths changed), an agent stream
// through nginx, and deploys through nginx reaching it whichever instance
// each request lands on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { assertOk, createRelease, randomSecret, startMcd } from
    './lib/mcd.mjs';
import { startPostgres } from './lib/pg.mjs';
import { deploy, newSite, nextVersion, openStream, sleep } from
    './lib/sse.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)),
    '..', '..');
const NGINX = '/usr/sbin/nginx';

let pg;
const mcd = [];
let nginx;
let dir;
let front;

function freePort() {
    return new Promise((resolve) => {
        const s = net.createServer().listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function docBlock(lang) {
    const text = fs.readFileSync(path.join(ROOT, 'docs/scale-out.md'), 'utf8');
    const m = text.match(new RegExp('```' + lang + '\\n([\\s\\S]*?)```'));
    assert.ok(m, `no ${lang} block in docs/scale-out.md`);
    return m[1];
}

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-scale-'));
    pg = await startPostgres();
    const url = await pg.createDatabase('mc_scale');
    const token = randomSecret(32);
    const key = path.join(dir, 'server.key');
    for (let i = 0; i < 2; i++) {
        mcd.push(await startMcd({ token, args: ['--db', url, '--key', key] }));
    }
    const port = await freePort();
    const conf = docBlock('nginx')
        .replace('127.0.0.1:8081', `127.0.0.1:${mcd[0].port}`)
        .replace('127.0.0.1:8082', `127.0.0.1:${mcd[1].port}`)
        .replace('listen 8080;', `listen 127.0.0.1:${port};`);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), [
        `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`,
        'events {}', 'http {', `access_log ${dir}/access.log;`,
        `client_body_temp_path ${dir}/body;`,
        `proxy_temp_path ${dir}/proxy;`, conf, '}', ''].join('\n'));
    nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'),
        '-g', 'daemon off;'], { stdio: 'ignore' });
    front = { url: `http://127.0.0.1:${port}`, token, history: [] };
    for (let i = 0; ; i++) {
        try {
            await fetch(`${front.url}/healthz`);
            break;
        } catch (err) {
            assert.ok(i < 100, `nginx did not start: ${err}`);
            await sleep(50);
        }
    }
});

after(async () => {
    nginx?.kill('SIGKILL');
    for (const m of mcd) {
        await m.stop();
    }
    await pg?.stop();
    if (dir) {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test('deploys through nginx reach a stream held through nginx', async () => {
    const site = await newSite(front);
    const rel = await createRelease(front, { version: nextVersion() });
    const st = await openStream(front, { token: site.agentToken });
    try {
        assert.equal(st.status, 200);
        await st.waitFor((s) => s.items.length > 0, 3000, 'retry line');
        // Round robin sends these to both instances in turn.
        for (let i = 0; i < 4; i++) {
            const t0 = Date.now();
            const res = assertOk(await deploy(front, rel.id,
                [site.location.id]));
            await st.waitForCommand(res.results[0].commandId, 3000);
            assert.ok(Date.now() - t0 < 1000);
        }
        const served = mcd.map((m) => (m.logs().match(/msg="deploy"/g) ||
            []).length);
        assert.ok(served[0] > 0 && served[1] > 0,
            `deploys per instance: ${served}`);
    } finally {
        st.close();
    }
});
