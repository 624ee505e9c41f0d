// The sync agent over https: the real mcd behind a TLS terminator (node's
// tls module, forwarding to mcd's port) whose certificate is signed by a
// CA made for the test with the openssl command. The agent's libcurl is
// its own static build (scripts/build-curl.sh); these cases hold that it
// still checks certificates.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { startMcd } from './lib/mcd.mjs';
import {
    deploy, held, nodeOf, registerNode, sleep, startAgent, tempDir,
    waitForFinal,
} from './lib/agent.mjs';

// A CA and a certificate for 127.0.0.1 signed by it, in dir.
function makeCertificates(dir) {
    const openssl = (...args) => execFileSync('openssl', args, {
        cwd: dir, stdio: ['ignore', 'ignore', 'pipe'],
    });
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
                 '-nodes'];
    openssl('req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem',
            '-days', '2', '-subj', '/CN=Mission Control e2e CA');
    openssl('req', '-new', ...key, '-keyout', 'server.key',
            '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    fs.writeFileSync(path.join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1\n');
    openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem',
            '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
            '-extfile', 'ext', '-out', 'server.pem');
}

// Terminates TLS on a free port and forwards each connection to port.
async function startTerminator(dir, port) {
    const server = tls.createServer({
        key: fs.readFileSync(path.join(dir, 'server.key')),
        cert: fs.readFileSync(path.join(dir, 'server.pem')),
    }, (client) => {
        const upstream = net.connect(port, '127.0.0.1');
        client.pipe(upstream).pipe(client);
        client.on('error', () => upstream.destroy());
        upstream.on('error', () => client.destroy());
    });
    server.on('tlsClientError', () => {});
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return server;
}

describe('agent over https', () => {
    let srv;
    let terminator;
    let certs;
    let httpsUrl;
    const agents = [];

    before(async () => {
        srv = await startMcd();
        certs = tempDir('mc-agent-tls-');
        makeCertificates(certs);
        terminator = await startTerminator(certs, new URL(srv.url).port);
        httpsUrl = `https://127.0.0.1:${terminator.address().port}`;
    });

    after(async () => {
        for (const a of agents) {
            if (!a.exited()) {
                assert.equal(await held(a.stop()), 0, a.logs());
            }
        }
        if (terminator) {
            terminator.close();
        }
        if (srv) {
            await held(srv.stop());
        }
    });

    test('agent-tls-ca-file', async () => {
        const node = await registerNode(srv, 'Tls');
        const agent = startAgent({
            srv: { url: httpsUrl }, node, execCommand: 'true',
            args: ['--ca-file', path.join(certs, 'ca.pem')],
        });
        agents.push(agent);
        await agent.waitForLog(/msg="stream open" http=200/);

        const id = await deploy(srv, '1.0.0', node.location.id);
        const cmd = await waitForFinal(srv, id);
        assert.equal(cmd.status, 'SUCCEEDED', agent.logs());
    });

    test('agent-tls-untrusted-refused', async () => {
        // The system's CAs do not include the test's: the handshake fails
        // before a request (and its token) is sent.
        const node = await registerNode(srv, 'Untrusted');
        const agent = startAgent({
            srv: { url: httpsUrl }, node, execCommand: 'true',
        });
        agents.push(agent);
        await agent.waitForLog(
            /msg="stream ended" http=0 .*error="SSL peer certificate/);
        await sleep(500);
        assert.doesNotMatch(agent.logs(), /msg="stream open"/);
        assert.equal((await nodeOf(srv, node.location.id)).online, false);
    });
});
