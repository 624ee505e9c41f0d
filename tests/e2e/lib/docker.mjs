// End-to-end harness for the docker driver: starts a real dockerd (its own
// data root, exec root and socket in a temp dir, no bridge, no iptables)
// and Debian's docker-registry on a free loopback port, makes tiny images
// from busybox-static (tests/docker/make-image.sh) and pushes them there.
// Nothing is pulled from the internet. stop() removes every container and
// stops both daemons; a process exit does the same as a last resort.
//
// Needs root and the Debian packages docker.io, docker-registry and
// busybox-static; startDocker() fails with what is missing. MC_SKIP_DOCKER=1
// skips the docker suites (say so when you use it: they then prove nothing).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAKE_IMAGE = path.join(REPO_ROOT, 'tests', 'docker', 'make-image.sh');
const which = (name, dirs) => dirs.map((d) => path.join(d, name))
    .find((f) => fs.existsSync(f)) || path.join(dirs[0], name);
const DOCKERD = which('dockerd', ['/usr/sbin', '/usr/bin']);
const REGISTRY = which('docker-registry', ['/usr/bin', '/usr/sbin']);
// The client of the docker.io package, the same version as the engine.
const DOCKER_CLI = fs.existsSync('/usr/bin/docker') ? '/usr/bin/docker'
    : 'docker';
const READY_TIMEOUT_MS = 30000;

const live = new Set();

// A last resort when a test dies without calling stop(): synchronous kills.
process.on('exit', () => {
    for (const env of live) {
        stopSync(env);
    }
});

export const SKIP_DOCKER = process.env.MC_SKIP_DOCKER ?
    'MC_SKIP_DOCKER is set' : false;

// Why the docker tests cannot run here, or null when they can.
export function dockerUnavailable() {
    if (process.getuid && process.getuid() !== 0) {
        return 'dockerd needs root';
    }
    for (const f of [DOCKERD, REGISTRY, DOCKER_CLI === 'docker' ? null
        : DOCKER_CLI, '/bin/busybox']) {
        if (f && !fs.existsSync(f)) {
            return `${f} is missing (apt-get install docker.io ` +
                'docker-registry busybox-static)';
        }
    }
    return null;
}

export function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

// GET over the engine's socket; resolves to the status, or 0 on error.
function pingSocket(sock) {
    return new Promise((resolve) => {
        const req = http.get({ socketPath: sock, path: '/_ping' }, (res) => {
            res.resume();
            resolve(res.statusCode);
        });
        req.on('error', () => resolve(0));
        req.setTimeout(2000, () => req.destroy());
    });
}

async function pingRegistry(port) {
    try {
        const res = await fetch(`http://127.0.0.1:${port}/v2/`);
        return res.status;
    } catch {
        return 0;
    }
}

async function waitFor(what, probe, proc, logFile) {
    const end = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < end) {
        if (proc.exitCode !== null || proc.signalCode !== null) {
            throw new Error(`${what} exited before it answered:\n` +
                            tail(logFile));
        }
        if (await probe()) {
            return;
        }
        await sleep(200);
    }
    throw new Error(`${what} did not answer within ${READY_TIMEOUT_MS} ms:\n` +
                    tail(logFile));
}

function tail(file, n = 30) {
    try {
        return fs.readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
    } catch {
        return '(no log)';
    }
}

function startDockerd(dir) {
    const sock = path.join(dir, 'docker.sock');
    const logFile = path.join(dir, 'dockerd.log');
    const out = fs.openSync(logFile, 'a');
    const proc = spawn(DOCKERD, [
        '--data-root', path.join(dir, 'data'),
        '--exec-root', path.join(dir, 'exec'),
        '--pidfile', path.join(dir, 'dockerd.pid'),
        '-H', `unix://${sock}`,
        '--bridge=none', '--iptables=false', '--ip6tables=false',
        '--ip-masq=false', '--userland-proxy=false',
        '--shutdown-timeout', '3',
        '--config-file', path.join(dir, 'daemon.json'),
    ], { detached: true, stdio: ['ignore', out, out] });
    fs.closeSync(out);
    proc.unref();
    return { proc, sock, logFile };
}

function startRegistry(dir, port) {
    const cfg = path.join(dir, 'registry.yml');
    const logFile = path.join(dir, 'registry.log');
    fs.writeFileSync(cfg, [
        'version: 0.1',
        'log:',
        '  level: warn',
        'storage:',
        '  filesystem:',
        `    rootdirectory: ${path.join(dir, 'registry')}`,
        '  delete:',
        '    enabled: true',
        'http:',
        `  addr: 127.0.0.1:${port}`,
        '',
    ].join('\n'));
    const out = fs.openSync(logFile, 'a');
    const proc = spawn(REGISTRY, ['serve', cfg], {
        detached: true, stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    proc.unref();
    return { proc, logFile };
}

// Starts dockerd and the registry; resolves to the environment:
// { dir, sock, registry ("127.0.0.1:PORT"), docker(args), inspect(name),
//   makeImage(ref, changes), stop() }.
export async function startDocker() {
    const missing = dockerUnavailable();
    if (missing) {
        throw new Error(`cannot run the docker tests: ${missing}`);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-dk-'));
    fs.writeFileSync(path.join(dir, 'daemon.json'), '{}\n');
    const env = { dir, dockerd: null, registryProc: null, stopped: false };
    live.add(env);
    try {
        const d = startDockerd(dir);
        env.dockerd = d.proc;
        env.sock = d.sock;
        env.dockerdLog = d.logFile;
        await waitFor('dockerd', async () => (await pingSocket(d.sock)) ===
                      200, d.proc, d.logFile);
        const port = await freePort();
        const r = startRegistry(dir, port);
        env.registryProc = r.proc;
        await waitFor('docker-registry', async () => (await pingRegistry(
            port)) === 200, r.proc, r.logFile);
        env.registry = `127.0.0.1:${port}`;
    } catch (err) {
        await stopDocker(env);
        throw err;
    }
    env.docker = (args, opts = {}) => runDocker(env, args, opts);
    env.inspect = (name) => inspectContainer(env, name);
    env.makeImage = (ref, changes) => makeImage(env, ref, changes);
    env.stop = () => stopDocker(env);
    return env;
}

function dockerEnv(env) {
    return { ...process.env, DOCKER_HOST: `unix://${env.sock}`,
             DOCKER_CONFIG: path.join(env.dir, 'client') };
}

// Runs the docker client; returns trimmed stdout, throws on failure unless
// opts.allowFail (then returns { status, stdout, stderr }).
export function runDocker(env, args, opts = {}) {
    const r = spawnSync(DOCKER_CLI, args, {
        env: dockerEnv(env), encoding: 'utf8', timeout: 120000,
    });
    if (opts.allowFail) {
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }
    if (r.status !== 0) {
        throw new Error(`docker ${args.join(' ')} failed (${r.status}): ` +
                        `${r.stderr}${r.error ? r.error.message : ''}`);
    }
    return r.stdout.trim();
}

// The container's inspect JSON, or null when there is none.
function inspectContainer(env, name) {
    const r = runDocker(env, ['container', 'inspect', name],
                        { allowFail: true });
    if (r.status !== 0) {
        return null;
    }
    return JSON.parse(r.stdout)[0];
}

// Imports an image from the busybox root filesystem with Dockerfile
// changes (['CMD [...]', 'HEALTHCHECK ...']) and pushes it to the registry.
// Returns the pushed manifest's digest.
function makeImage(env, ref, changes = []) {
    const args = [path.join(env.dir, 'rootfs'), ref];
    for (const c of changes) {
        args.push('--change', c);
    }
    const r = spawnSync(MAKE_IMAGE, args, {
        env: { ...dockerEnv(env), DOCKER: DOCKER_CLI }, encoding: 'utf8',
    });
    if (r.status !== 0) {
        throw new Error(`make-image ${ref} failed: ${r.stderr}`);
    }
    const out = runDocker(env, ['push', ref]);
    const m = /digest: (sha256:[0-9a-f]{64})/.exec(out);
    if (!m) {
        throw new Error(`no digest in the push output: ${out}`);
    }
    return m[1];
}

function waitExit(proc, ms) {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.resolve(true);
    }
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        proc.once('exit', () => {
            clearTimeout(timer);
            resolve(true);
        });
    });
}

function killGroup(proc, signal) {
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
        return;
    }
    try {
        process.kill(-proc.pid, signal);
    } catch {
        // already gone
    }
}

function removeAllContainers(env) {
    if (!env.sock || !fs.existsSync(env.sock)) {
        return;
    }
    const ids = runDocker(env, ['ps', '-aq'], { allowFail: true });
    const list = (ids.stdout || '').split('\n').filter(Boolean);
    if (list.length > 0) {
        runDocker(env, ['rm', '-f', ...list], { allowFail: true });
    }
}

function removeDir(env) {
    if (process.env.MC_KEEP_TMP) {
        process.stderr.write(`mc-e2e: kept ${env.dir}\n`);
        return;
    }
    // dockerd unmounts its layers when it stops; a mount left behind by a
    // killed one makes the removal fail, and is left for the OS.
    spawnSync('umount', ['-R', '-l', path.join(env.dir, 'data')]);
    spawnSync('umount', ['-R', '-l', path.join(env.dir, 'exec')]);
    try {
        fs.rmSync(env.dir, { recursive: true, force: true });
    } catch (err) {
        process.stderr.write(`mc-e2e: cannot remove ${env.dir}: ${err}\n`);
    }
}

async function stopDocker(env) {
    if (env.stopped) {
        return;
    }
    env.stopped = true;
    removeAllContainers(env);
    killGroup(env.registryProc, 'SIGTERM');
    killGroup(env.dockerd, 'SIGTERM');
    if (!(await waitExit(env.dockerd, 20000))) {
        killGroup(env.dockerd, 'SIGKILL');
        await waitExit(env.dockerd, 5000);
    }
    if (!(await waitExit(env.registryProc, 5000))) {
        killGroup(env.registryProc, 'SIGKILL');
    }
    live.delete(env);
    removeDir(env);
}

function stopSync(env) {
    if (env.stopped) {
        return;
    }
    env.stopped = true;
    removeAllContainers(env);
    killGroup(env.registryProc, 'SIGKILL');
    killGroup(env.dockerd, 'SIGTERM');
    spawnSync('sleep', ['3']);
    killGroup(env.dockerd, 'SIGKILL');
    removeDir(env);
}

// A shell loop that stops at once on SIGTERM (sh as PID 1 would ignore it).
const LOOP = 'trap "exit 0" TERM; while :; do sleep 1 & wait; done';
const cmd = (script) => `CMD ["/bin/sh","-c",${JSON.stringify(script)}]`;
const HEALTHY = 'HEALTHCHECK --interval=1s --timeout=1s --retries=2 ' +
    'CMD ["/bin/true"]';

// The POS test images, pushed to the registry of env:
//   1.0.0, 1.1.0  healthy (their env and a label differ)
//   1.2.0         healthy only after 4 s (to kill an agent while it waits)
//   1.3.0         exits right after start
//   1.4.0         its health check always fails
// Only 1.0.0 stays in the engine, so the others must really be pulled.
// Returns { repo, '1.0.0': {ref, digest}, ... }.
export function makePosImages(env) {
    const repo = `${env.registry}/pos/app`;
    const img = { repo };
    for (const [v, changes] of Object.entries({
        '1.0.0': [cmd(LOOP), HEALTHY, 'ENV APP_MODE=old',
            'LABEL org.example.build=old'],
        '1.1.0': [cmd(LOOP), HEALTHY, 'ENV APP_MODE=new',
            'LABEL org.example.build=new'],
        '1.2.0': [cmd(`sleep 4; touch /tmp/ready; ${LOOP}`),
            'HEALTHCHECK --interval=1s --timeout=1s --retries=1 ' +
            '--start-period=60s CMD ["/bin/test","-f","/tmp/ready"]'],
        '1.3.0': [cmd('echo crashing; exit 3')],
        '1.4.0': [cmd(LOOP), 'HEALTHCHECK --interval=1s --timeout=1s ' +
            '--retries=2 CMD ["/bin/false"]'],
    })) {
        const ref = `${repo}:${v}`;
        img[v] = { ref, digest: makeImage(env, ref, changes) };
    }
    runDocker(env, ['rmi', img['1.1.0'].ref, img['1.2.0'].ref,
                    img['1.3.0'].ref, img['1.4.0'].ref]);
    return img;
}

// A fresh POS container `name` on image ref, with settings of its own
// that an update must keep. Returns its inspect JSON.
export function startPos(env, name, ref) {
    for (const n of [name, `${name}-previous`]) {
        runDocker(env, ['rm', '-f', n], { allowFail: true });
    }
    runDocker(env, ['run', '-d', '--name', name, '--network', 'none',
                    '--restart', 'unless-stopped', '-e', 'POS_SITE=berlin',
                    '--label', 'venue=berlin', '-v', '/var/lib/pos', ref]);
    return inspectContainer(env, name);
}
