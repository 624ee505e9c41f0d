// The sync agent across restarts and silences: the server restarts, the
// server forgets (restored from a backup) and delivers a handled command
// again, the stream goes silent, and the agent idles without CPU.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMcd } from './lib/mcd.mjs';
import {
    commandOf, deploy, held, nodeOf, registerNode, sleep, startAgent, tempDir,
    waitFor, waitForFinal,
} from './lib/agent.mjs';

function counter(dir) {
    const file = path.join(dir, 'count');
    return {
        cmd: `echo "$MC_COMMAND_ID" >> ${file}`,
        runs: () => (fs.existsSync(file)
            ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)
            : []),
    };
}

// Starts mcd again on the data directory and port of an earlier one.
function restartMcd(old, args = []) {
    return startMcd({
        dir: old.dir, token: old.token, password: old.password,
        args: ['--listen', `127.0.0.1:${old.port}`, ...args],
    });
}

// Ticks of CPU (user + system) the process used so far.
function cpuTicks(pid) {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
}

function sanitized(pid) {
    return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libasan');
}

describe('agent restarts', () => {
    const cleanup = [];

    after(async () => {
        for (const f of cleanup.reverse()) {
            await f();
        }
    });

    // Stopped at the end; an agent that is still running must exit 0
    // (under ASan: without leaks either).
    function track(x) {
        cleanup.push(async () => {
            if (x.exited && !x.exited()) {
                assert.equal(await held(x.stop()), 0, x.logs());
            } else {
                await held(x.stop());
            }
        });
        return x;
    }

    test('agent-reconnects-after-server-restart', async () => {
        const srv = track(await startMcd());
        const work = tempDir();
        const c = counter(work);
        const node = await registerNode(srv, 'Restart');
        const agent = track(startAgent({ srv, node, execCommand: c.cmd }));
        const first = await deploy(srv, '2.0.0', node.location.id);
        assert.equal((await waitForFinal(srv, first)).status, 'SUCCEEDED');

        await held(srv.kill());
        await agent.waitForLog(/msg="stream ended"/);
        const srv2 = track(await restartMcd(srv));
        await waitFor(() => agent.count('msg="stream open"') >= 2,
                      () => `reconnect; log:\n${agent.logs()}`);
        const second = await deploy(srv2, '2.1.0', node.location.id);
        assert.equal((await waitForFinal(srv2, second)).status, 'SUCCEEDED');
        assert.equal((await nodeOf(srv2, node.location.id)).currentVersion,
                     '2.1.0');
        assert.deepEqual(c.runs(), [first, second]);
        // The reconnect told the server what runs now.
        assert.match(agent.logs(), /url=\S+currentVersion=2\.0\.0/);
    });

    // The server's state is rewound by copying its SQLite files back, so
    // this case runs on SQLite only.
    test('agent-redelivered-command-runs-once', {
        skip: process.env.MC_TEST_DB === 'postgres' &&
            'rewinds the SQLite files',
    }, async () => {
        let srv = track(await startMcd());
        const work = tempDir();
        const backup = tempDir();
        const stateDir = tempDir();
        const c = counter(work);
        const node = await registerNode(srv, 'Redeliver');
        const id = await deploy(srv, '3.0.0', node.location.id);
        // A backup of the server while the command is still PENDING.
        await held(srv.stop());
        for (const f of fs.readdirSync(srv.dir)) {
            if (f.startsWith('mc.db')) {
                fs.copyFileSync(path.join(srv.dir, f), path.join(backup, f));
            }
        }
        srv = track(await restartMcd(srv));
        let agent = track(startAgent({ srv, node, stateDir,
                                       execCommand: c.cmd }));
        assert.equal((await waitForFinal(srv, id)).status, 'SUCCEEDED');
        await held(agent.stop());
        await held(srv.stop());

        // The server is restored from the backup: it forgot the outcome
        // and delivers the command again.
        for (const f of fs.readdirSync(srv.dir)) {
            if (f.startsWith('mc.db')) {
                fs.rmSync(path.join(srv.dir, f));
            }
        }
        for (const f of fs.readdirSync(backup)) {
            fs.copyFileSync(path.join(backup, f), path.join(srv.dir, f));
        }
        srv = track(await restartMcd(srv));
        assert.equal((await commandOf(srv, id)).status, 'PENDING');
        agent = track(startAgent({ srv, node, stateDir,
                                   execCommand: c.cmd }));
        const cmd = await waitForFinal(srv, id);
        assert.equal(cmd.status, 'SUCCEEDED');
        await agent.waitForLog(/msg="command already handled" command=\S+ status=SUCCEEDED/);
        assert.deepEqual(c.runs(), [id], 'the update ran once');
        assert.equal((await nodeOf(srv, node.location.id)).currentVersion,
                     '3.0.0');
    });

    test('agent-silent-stream-reconnects', async () => {
        const srv = track(await startMcd({ args: ['--keepalive', '1'] }));
        const work = tempDir();
        const c = counter(work);
        const node = await registerNode(srv, 'Silent');
        const agent = track(startAgent({
            srv, node, execCommand: c.cmd, args: ['--keepalive', '1'],
        }));
        await agent.waitForLog(/msg="stream open"/);
        // A stopped server keeps the connection open and says nothing.
        process.kill(srv.proc.pid, 'SIGSTOP');
        try {
            await agent.waitForLog(
                /msg="stream ended".*no byte for 2 s, not even a keep-alive/,
                8000);
        } finally {
            process.kill(srv.proc.pid, 'SIGCONT');
        }
        await waitFor(() => agent.count('msg="stream open"') >= 2,
                      () => `reconnect; log:\n${agent.logs()}`);
        const id = await deploy(srv, '4.0.0', node.location.id);
        assert.equal((await waitForFinal(srv, id)).status, 'SUCCEEDED');
        // Keep-alives every second keep a healthy stream open.
        const opened = agent.count('msg="stream open"');
        await sleep(3500);
        assert.equal(agent.count('msg="stream open"'), opened);
    });

    test('agent-idle-uses-no-cpu', async () => {
        const srv = track(await startMcd());
        const node = await registerNode(srv, 'Idle');
        const agent = track(startAgent({
            srv, node, execCommand: 'true', args: ['--log-level', 'info'],
        }));
        await agent.waitForLog(/msg="stream open"/);
        await sleep(500);
        const pid = agent.proc.pid;
        const before = cpuTicks(pid);
        await sleep(4000);
        const used = cpuTicks(pid) - before;
        assert.ok(used <= 1, `idle agent used ${used} CPU ticks in 4 s`);
        if (!sanitized(pid)) {
            const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
            const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
            assert.ok(rssKiB < 16 * 1024, `resident ${rssKiB} KiB`);
        }
    });
});
