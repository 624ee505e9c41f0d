// The sync agent end to end: the real mcd and the real mc-agent with the
// exec driver. Each case is named by feature and case.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMcd } from './lib/mcd.mjs';
import {
    commandOf, deploy, foreignPublicKey, held, nodeOf, registerNode, runAgent,
    sleep, startAgent, tempDir, waitFor, waitForFinal,
} from './lib/agent.mjs';

// An exec command that appends "<command id> <version>" to runs.log in
// dir, then does what `then` says (shell).
function recorder(dir, then = 'true') {
    const log = path.join(dir, 'runs.log');
    return `echo "$MC_COMMAND_ID $MC_VERSION $MC_IMAGE_TAG" >> ${log}; ${then}`;
}

function runs(dir) {
    const file = path.join(dir, 'runs.log');
    if (!fs.existsSync(file)) {
        return [];
    }
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

describe('agent', () => {
    let srv;
    const agents = [];

    function agentFor(opts) {
        const a = startAgent({ srv, ...opts });
        agents.push(a);
        return a;
    }

    before(async () => {
        srv = await startMcd();
    });

    after(async () => {
        // A clean stop exits 0 (under ASan: without leaks either).
        for (const a of agents) {
            if (!a.exited()) {
                assert.equal(await held(a.stop()), 0, a.logs());
            }
        }
        if (srv) {
            await held(srv.stop());
        }
    });

    test('agent-update-succeeds', async () => {
        const work = tempDir();
        const node = await registerNode(srv, 'Success');
        const agent = agentFor({
            node, execCommand: recorder(work),
            args: ['--schema-version', '42', '--node-id', node.node.id],
        });
        await agent.waitForLog(/msg="stream open"/);
        const online = await waitFor(async () => {
            const n = await nodeOf(srv, node.location.id);
            return n.online ? n : null;
        }, 'node online');
        assert.equal(online.schemaVersion, 42);

        const id = await deploy(srv, '1.0.0', node.location.id);
        const cmd = await waitForFinal(srv, id);
        assert.equal(cmd.status, 'SUCCEEDED', JSON.stringify(cmd));
        assert.ok(cmd.acknowledgedAt && cmd.startedAt && cmd.finishedAt);
        const n = await nodeOf(srv, node.location.id);
        assert.equal(n.currentVersion, '1.0.0');
        assert.deepEqual(runs(work), [`${id} 1.0.0 1.0.0`]);
        const st = agent.state();
        assert.equal(st.currentVersion, '1.0.0');
        assert.equal(st.handled.at(-1).id, id);
        assert.equal(st.handled.at(-1).status, 'SUCCEEDED');
        assert.equal(st.inFlight, null);
        assert.doesNotMatch(agent.logs(), new RegExp(node.token));
    });

    test('agent-update-fails', async () => {
        const work = tempDir();
        const node = await registerNode(srv, 'Failure');
        const agent = agentFor({
            node,
            execCommand: recorder(work, 'echo "pulling" >&2; ' +
                                  'echo "disk full" >&2; exit 4'),
        });
        await agent.waitForLog(/msg="stream open"/);
        const id = await deploy(srv, '1.1.0', node.location.id);
        const cmd = await waitForFinal(srv, id);
        assert.equal(cmd.status, 'FAILED');
        assert.match(cmd.message, /exited with status 4: disk full/);
        const n = await nodeOf(srv, node.location.id);
        assert.equal(n.currentVersion, null);
        assert.equal(runs(work).length, 1);
        // The same release can be deployed again, and fails again.
        const again = await deploy(srv, '1.1.0', node.location.id);
        assert.equal((await waitForFinal(srv, again)).status, 'FAILED');
        assert.equal(runs(work).length, 2);
    });

    test('agent-offline-catches-up', async () => {
        const work = tempDir();
        const node = await registerNode(srv, 'Offline');
        const id = await deploy(srv, '1.2.0', node.location.id);
        assert.equal((await commandOf(srv, id)).status, 'PENDING');
        agentFor({ node, execCommand: recorder(work) });
        const cmd = await waitForFinal(srv, id);
        assert.equal(cmd.status, 'SUCCEEDED');
        assert.equal((await nodeOf(srv, node.location.id)).currentVersion,
                     '1.2.0');
        assert.equal(runs(work).length, 1);
    });

    test('agent-bad-signature-refused', async () => {
        const work = tempDir();
        const node = await registerNode(srv, 'Forged');
        const agent = agentFor({
            node, execCommand: recorder(work), serverKey: foreignPublicKey(),
        });
        await agent.waitForLog(/msg="stream open"/);
        const id = await deploy(srv, '1.3.0', node.location.id);
        await agent.waitForLog(/msg="command refused" command=\S+ reason="signature does not verify/);
        // Refused means never acknowledged, never run.
        await sleep(500);
        const cmd = await commandOf(srv, id);
        assert.equal(cmd.status, 'DELIVERED');
        assert.equal(cmd.acknowledgedAt, null);
        assert.deepEqual(runs(work), []);
        assert.equal((await nodeOf(srv, node.location.id)).currentVersion,
                     null);
    });

    test('agent-other-node-refused', async () => {
        const work = tempDir();
        const node = await registerNode(srv, 'Elsewhere');
        const agent = agentFor({
            node, execCommand: recorder(work),
            args: ['--node-id', 'zzzzzzzzzzzzzzzzzzzzzzzzz'],
        });
        await agent.waitForLog(/msg="stream open"/);
        const id = await deploy(srv, '1.3.1', node.location.id);
        await agent.waitForLog(/msg="command refused" command=\S+ reason="command is for node/);
        await sleep(300);
        assert.equal((await commandOf(srv, id)).status, 'DELIVERED');
        assert.deepEqual(runs(work), []);
    });

    test('agent-killed-mid-update-reports-on-restart', async () => {
        const work = tempDir();
        const stateDir = tempDir();
        const node = await registerNode(srv, 'Crash');
        const pidFile = path.join(work, 'pid');
        const cmdline = recorder(work, `echo $$ > ${pidFile}; sleep 60`);
        let agent = agentFor({ node, stateDir, execCommand: cmdline });
        const id = await deploy(srv, '1.4.0', node.location.id);
        await waitFor(() => fs.existsSync(pidFile) &&
                      fs.readFileSync(pidFile, 'utf8').trim(), 'exec start');
        assert.equal((await commandOf(srv, id)).status, 'IN_PROGRESS');
        await agent.kill();
        // The exec command runs in its own process group; end it too.
        process.kill(-Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');

        agent = agentFor({ node, stateDir, execCommand: cmdline });
        const cmd = await waitForFinal(srv, id);
        assert.equal(cmd.status, 'FAILED');
        assert.match(cmd.message, /interrupted/);
        assert.equal(runs(work).length, 1, 'not run again');
        assert.equal((await nodeOf(srv, node.location.id)).currentVersion,
                     null);
        await agent.waitForLog(/msg="stream open"/);
        assert.equal(agent.state().inFlight, null);
    });

    test('agent-settings-checked', async () => {
        let r = await runAgent(['--help']);
        assert.equal(r.code, 0);
        assert.match(r.stdout, /--exec-command CMD/);
        assert.match(r.stdout, /MC_AGENT_SERVER/);
        r = await runAgent(['--server', 'http://127.0.0.1:1']);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /--token is required/);
        r = await runAgent(['--server', 'ftp://x', '--token', 't',
                            '--server-key', foreignPublicKey()]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /invalid --server "ftp:\/\/x"/);
        r = await runAgent(['--server', 'http://x', '--token', 't',
                            '--server-key', 'AAAA']);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /invalid --server-key/);
        r = await runAgent(['--server', 'http://x', '--token', 't',
                            '--server-key', foreignPublicKey(),
                            '--state-dir', tempDir(), '--driver', 'exec']);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /needs --exec-command/);
    });

    test('agent-config-file-and-environment', async () => {
        const work = tempDir();
        const node = await registerNode(srv, 'Configured');
        const conf = path.join(work, 'agent.conf');
        fs.writeFileSync(conf, [
            '# mc-agent settings',
            `server = ${srv.url}`,
            `token = ${node.token}`,
            'driver = exec',
            `exec-command = ${recorder(work)}`,
            'schema-version = 7',
            'schema-version = 9',
        ].join('\n') + '\n');
        // The environment wins over the file, flags over both.
        const agent = agentFor({
            node,
            env: { MC_AGENT_CONFIG: conf, MC_AGENT_TOKEN: undefined,
                   MC_AGENT_SCHEMA_VERSION: '8' },
            args: ['--exec-timeout', '30'],
        });
        await agent.waitForLog(/msg="stream open"/);
        const n = await waitFor(async () => {
            const x = await nodeOf(srv, node.location.id);
            return x.online ? x : null;
        }, 'node online');
        assert.equal(n.schemaVersion, 8);
        const id = await deploy(srv, '1.5.0', node.location.id);
        assert.equal((await waitForFinal(srv, id)).status, 'SUCCEEDED');
    });
});
