// A real PostgreSQL server for tests: its own cluster in a temp folder, on a
// free loopback port, its unix socket in that folder. Made for speed, not
// durability (fsync off). Stopped and removed when the test process exits,
// even on failure.
//
//   const pg = await startPostgres();
//   const url = await pg.createDatabase('t1');  // postgresql://...:port/t1
//   await pg.restart();                          // same data, same port
//   await pg.stop();
//
// PG_BIN_DIR    where initdb and postgres live
//               (default /usr/lib/postgresql/15/bin)
// MC_KEEP_TMP   keep the data folder (its path is printed)
//
// PostgreSQL refuses to run as root: when we are root, the server runs as
// the "postgres" system user (setpriv, which execs, so the pid we hold is
// the postmaster's own and a signal reaches it directly).

import { execFile, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const PG_BIN_DIR = process.env.PG_BIN_DIR || '/usr/lib/postgresql/15/bin';
const SUPERUSER = 'postgres';
const READY_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;
const READY_RE = /database system is ready to accept connections/;

const live = new Set();

// The 'exit' handler cannot wait on promises: it asks every server still
// running for an immediate shutdown, waits for it synchronously, then
// removes its folder.
process.on('exit', () => {
    for (const pg of live) {
        signal(pg.proc, 'SIGQUIT');
        waitGoneSync(pg.proc.pid, STOP_TIMEOUT_MS);
        signal(pg.proc, 'SIGKILL');
        removeDir(pg.dir);
    }
});

function signal(proc, sig) {
    try {
        proc.kill(sig);
    } catch {
        // already gone
    }
}

function alive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

function waitGoneSync(pid, ms) {
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const until = Date.now() + ms;
    while (alive(pid) && Date.now() < until) {
        Atomics.wait(cell, 0, 0, 20);
    }
}

function removeDir(dir) {
    if (process.env.MC_KEEP_TMP) {
        process.stderr.write(`mc-pg: kept ${dir}\n`);
        return;
    }
    fs.rmSync(dir, { recursive: true, force: true });
}

// As root, the ids of the postgres user; otherwise null (run as ourselves).
function serverUser() {
    if (process.getuid() !== 0) {
        return null;
    }
    const uid = Number(execFileSync('id', ['-u', SUPERUSER]).toString());
    const gid = Number(execFileSync('id', ['-g', SUPERUSER]).toString());
    return { uid, gid };
}

// The argv that runs bin as the server user.
function asServerUser(user, bin, args) {
    const exe = path.join(PG_BIN_DIR, bin);
    if (!user) {
        return [exe, args];
    }
    return ['setpriv', [
        `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups',
        '--', exe, ...args,
    ]];
}

function run(user, bin, args) {
    const [cmd, argv] = asServerUser(user, bin, args);
    return new Promise((resolve, reject) => {
        execFile(cmd, argv, { env: pgEnv() }, (err, stdout, stderr) => {
            if (err) {
                reject(new Error(`${bin} ${args.join(' ')} failed: ` +
                                 `${err.message}\n${stderr}`));
            } else {
                resolve(stdout);
            }
        });
    });
}

// Our environment without PG* settings that could point the tools at
// another server.
function pgEnv() {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('PG')) {
            env[k] = v;
        }
    }
    env.LC_ALL = 'C';
    return env;
}

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

function waitForExit(proc) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.resolve();
    }
    return new Promise((resolve) => proc.once('exit', resolve));
}

// Resolves once the log says the server accepts connections; rejects with
// the log when it exits first or stays silent too long.
function waitReady(proc, output) {
    return new Promise((resolve, reject) => {
        let done = false;
        const finish = (err) => {
            if (done) {
                return;
            }
            done = true;
            clearTimeout(timer);
            proc.stderr.off('data', onData);
            proc.off('exit', onExit);
            if (err) {
                reject(err);
            } else {
                resolve();
            }
        };
        const onData = () => {
            if (READY_RE.test(output.log.slice(output.mark))) {
                finish(null);
            }
        };
        const onExit = (code, sig) => {
            finish(new Error(`postgres exited (${code ?? sig}) before it ` +
                             `was ready; log:\n${output.log}`));
        };
        const timer = setTimeout(() => {
            finish(new Error(`postgres not ready within ` +
                             `${READY_TIMEOUT_MS} ms; log:\n${output.log}`));
        }, READY_TIMEOUT_MS);
        proc.stderr.on('data', onData);
        proc.on('exit', onExit);
        onData();
    });
}

async function launch(pg) {
    const args = [
        '-D', pg.dataDir,
        '-p', String(pg.port),
        '-k', pg.dir,
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        '-c', 'shared_buffers=16MB',
        '-c', 'max_connections=200',
        '-c', 'log_min_messages=warning',
        '-c', 'log_line_prefix=%m [%p] ',
    ];
    const [cmd, argv] = asServerUser(pg.user, 'postgres', args);
    const proc = spawn(cmd, argv, {
        cwd: pg.dir, env: pgEnv(), stdio: ['ignore', 'ignore', 'pipe'],
    });
    pg.output.mark = pg.output.log.length;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (s) => { pg.output.log += s; });
    proc.once('error', (err) => {
        pg.output.log += `\nspawn error: ${err.message}\n`;
    });
    // A server a test forgot to stop must not keep node alive.
    proc.unref();
    proc.stderr.unref();
    pg.proc = proc;
    try {
        await waitReady(proc, pg.output);
    } catch (err) {
        signal(proc, 'SIGKILL');
        await waitForExit(proc);
        throw err;
    }
}

// Fast shutdown (SIGINT): ends sessions, then exits; SIGKILL after a while.
async function halt(pg) {
    const { proc } = pg;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) {
        return;
    }
    signal(proc, 'SIGINT');
    const timer = setTimeout(() => signal(proc, 'SIGKILL'), STOP_TIMEOUT_MS);
    await waitForExit(proc);
    clearTimeout(timer);
}

function quoteIdent(name) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
        throw new Error(`unsafe database name "${name}"`);
    }
    return name;
}

export async function startPostgres() {
    const user = serverUser();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-pg-'));
    const pg = {
        user, dir, dataDir: path.join(dir, 'data'), port: 0, proc: null,
        output: { log: '', mark: 0 },
    };
    try {
        if (user) {
            fs.chownSync(dir, user.uid, user.gid);
        }
        await run(user, 'initdb', [
            '-D', pg.dataDir, '-U', SUPERUSER, '--auth=trust',
            '-E', 'UTF8', '--locale=C', '--no-sync',
        ]);
        live.add(pg);
        // The port was free a moment ago; another process may have taken
        // it before postgres binds it, so a few tries get a new one.
        for (let tries = 1; ; tries++) {
            pg.port = await freePort();
            try {
                await launch(pg);
                break;
            } catch (err) {
                if (tries === 3 || !/Address already in use/.test(err.message)) {
                    throw err;
                }
            }
        }
    } catch (err) {
        live.delete(pg);
        await halt(pg);
        removeDir(dir);
        throw err;
    }

    const url = (db = 'postgres') =>
        `postgresql://${SUPERUSER}@127.0.0.1:${pg.port}/${db}`;
    const psql = (db, sql) => run(null, 'psql', [
        '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-d', url(db),
        '-c', sql,
    ]);
    return {
        get port() { return pg.port; },
        dir,
        url,
        logs: () => pg.output.log,
        // Runs SQL as the superuser; resolves to psql's unaligned output.
        psql,
        async createDatabase(name) {
            await psql('postgres', `CREATE DATABASE ${quoteIdent(name)}`);
            return url(name);
        },
        async stop() {
            await halt(pg);
            live.delete(pg);
            removeDir(dir);
        },
        // Stops the server, then starts it again on the same data and port:
        // clients see their connections drop and the server come back.
        async restart() {
            await halt(pg);
            await launch(pg);
        },
        // Stops the server but keeps its data, for tests of an outage;
        // start() brings it back.
        halt: () => halt(pg),
        start: () => launch(pg),
    };
}
