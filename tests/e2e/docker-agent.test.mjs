// Deploys through mcd to the real mc-agent with the docker driver, on a
// real Docker engine with a local registry (lib/docker.mjs): the POS
// container is replaced, or put back when the new one fails, and an agent
// killed mid-update recovers at its next start.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { createRelease, startMcd } from './lib/mcd.mjs';
import {
    commandOf, deploy, nodeOf, registerNode, startAgent, waitFor,
    waitForFinal,
} from './lib/agent.mjs';
import {
    SKIP_DOCKER, makePosImages, startDocker, startPos,
} from './lib/docker.mjs';

const NAME = 'pos';

describe('docker agent', { skip: SKIP_DOCKER }, () => {
    let dk;
    let srv;
    let img;
    let reg;
    let agent;
    let stateDir;

    const agentArgs = () => ['--driver', 'docker',
        '--docker-socket', dk.sock, '--container', NAME,
        '--image-repo', img.repo, '--health-timeout', '20', '--settle', '2'];

    before(async () => {
        dk = await startDocker();
        img = makePosImages(dk);
        startPos(dk, NAME, img['1.0.0'].ref);
        srv = await startMcd();
        reg = await registerNode(srv, 'Docker venue');
        stateDir = path.join(dk.dir, 'agent');
        fs.mkdirSync(stateDir);
        agent = startAgent({ srv, node: reg, stateDir, args: agentArgs() });
        await waitFor(async () => (await nodeOf(srv, reg.location.id)).online,
                      () => `agent online; log:\n${agent.logs()}`);
    });

    after(async () => {
        if (agent) {
            await agent.stop();
        }
        if (srv) {
            await srv.stop();
        }
        if (dk) {
            await dk.stop();
        }
    });

    async function deployAndWait(version, fields = {}) {
        await createRelease(srv, { version, imageTag: version, ...fields });
        const id = await deploy(srv, version, reg.location.id);
        return waitForFinal(srv, id, 40000);
    }

    // The container that runs now is `before_`, unchanged, alone.
    function assertStill(before_, why) {
        const now = dk.inspect(NAME);
        assert.equal(now.Id, before_.Id, `the same container (${why})`);
        assert.equal(now.Config.Image, before_.Config.Image);
        assert.equal(now.State.Running, true, 'and it runs');
        assert.equal(dk.inspect(`${NAME}-previous`), null);
        assert.equal(dk.docker(['ps', '-aq']).split('\n').length, 1,
                     'exactly one container');
    }

    test('deploy-docker-new-tag', async () => {
        const old = dk.inspect(NAME);
        const cmd = await deployAndWait('1.1.0',
                                        { imageDigest: img['1.1.0'].digest });
        assert.equal(cmd.status, 'SUCCEEDED', cmd.message);
        const now = dk.inspect(NAME);
        assert.notEqual(now.Id, old.Id, 'a new container');
        assert.equal(now.Config.Image, img['1.1.0'].ref);
        assert.equal(now.State.Running, true);
        assert.equal(now.State.Health.Status, 'healthy');
        assert.ok(now.Config.Env.includes('POS_SITE=berlin'), 'its env');
        assert.ok(now.Config.Env.includes('APP_MODE=new'),
                  `the new image's own env: ${now.Config.Env}`);
        assert.equal(now.Config.Labels.venue, 'berlin', 'its label');
        assert.equal(now.HostConfig.RestartPolicy.Name, 'unless-stopped');
        assert.equal(now.HostConfig.NetworkMode, 'none');
        const vol = (c) => c.Mounts.find((m) => m.Destination ===
                                         '/var/lib/pos').Name;
        assert.equal(vol(now), vol(old), 'its volume');
        assert.equal(dk.inspect(old.Id), null, 'the old one is removed');
        assert.equal(dk.inspect(`${NAME}-previous`), null);
        assert.equal((await nodeOf(srv, reg.location.id)).currentVersion,
                     '1.1.0');
    });

    test('deploy-docker-missing-tag', async () => {
        const old = dk.inspect(NAME);
        const cmd = await deployAndWait('9.9.9');
        assert.equal(cmd.status, 'FAILED');
        assert.match(cmd.message, /cannot pull .*9\.9\.9.*manifest unknown/);
        assertStill(old, 'nothing to pull');
        assert.equal((await nodeOf(srv, reg.location.id)).currentVersion,
                     '1.1.0');
    });

    test('deploy-docker-digest-mismatch', async () => {
        const old = dk.inspect(NAME);
        const cmd = await deployAndWait('1.1.1', {
            imageTag: img['1.1.0'].ref, imageDigest: img['1.0.0'].digest,
        });
        assert.equal(cmd.status, 'FAILED');
        assert.match(cmd.message, /has digest sha256:.* the release wants/);
        assertStill(old, 'a digest that does not match');
    });

    test('deploy-docker-exits-at-start-rolls-back', async () => {
        const old = dk.inspect(NAME);
        const cmd = await deployAndWait('1.3.0');
        assert.equal(cmd.status, 'FAILED');
        assert.match(cmd.message, /(exited|restarted).*rolled back/);
        assertStill(old, 'rolled back');
        assert.equal((await nodeOf(srv, reg.location.id)).currentVersion,
                     '1.1.0');
    });

    test('deploy-docker-never-healthy-rolls-back', async () => {
        const old = dk.inspect(NAME);
        const cmd = await deployAndWait('1.4.0');
        assert.equal(cmd.status, 'FAILED');
        assert.match(cmd.message, /unhealthy; rolled back/);
        assertStill(old, 'rolled back');
    });

    test('deploy-docker-agent-killed-mid-update', async () => {
        const old = dk.inspect(NAME);
        await createRelease(srv, { version: '1.2.0', imageTag: '1.2.0' });
        const id = await deploy(srv, '1.2.0', reg.location.id);
        // Kill the agent while it waits for the slow new container.
        await waitFor(() => {
            const c = dk.inspect(NAME);
            return c && c.Id !== old.Id && c.State.Running;
        }, 'the new container to start', 20000, 100);
        await agent.kill();
        assert.equal((await commandOf(srv, id)).status, 'IN_PROGRESS');
        assert.equal(dk.inspect(`${NAME}-previous`).Id, old.Id);

        const marker = path.join(stateDir, 'docker-update.json');
        const half = JSON.parse(fs.readFileSync(marker, 'utf8'));
        assert.equal(half.commandId, id, 'the marker names the command');
        assert.equal(half.oldId, old.Id);
        assert.equal(half.phase, 'replacing');

        // Killed before the new one was healthy: the restarted agent rolls
        // back and reports FAILED, consistent with what runs.
        agent = startAgent({ srv, node: reg, stateDir, args: agentArgs() });
        const cmd = await waitForFinal(srv, id, 40000);
        assert.equal(cmd.status, 'FAILED', cmd.message);
        assert.match(cmd.message, /agent stopped during the update.*rolled/);
        assertStill(old, 'recovered by rolling back');
        assert.equal(fs.existsSync(marker), false, 'the marker is gone');
        assert.equal((await nodeOf(srv, reg.location.id)).currentVersion,
                     '1.1.0');

        // And the node still takes an update afterwards.
        const again = await waitForFinal(
            srv, await deploy(srv, '1.2.0', reg.location.id), 40000);
        assert.equal(again.status, 'SUCCEEDED', again.message);
        assert.equal(dk.inspect(NAME).Config.Image, img['1.2.0'].ref);
    });
});
