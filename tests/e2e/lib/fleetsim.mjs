// End-to-end helpers for the fleet simulator: start the real
// `mc-fleetsim` against a real `mcd` (see mcd.mjs), read its stats file,
// and stop it, even when a test fails.
//
// MC_BUILD_DIR  where mc-fleetsim lives (default "build", relative to the
//               repo root)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUILD_DIR = path.resolve(REPO_ROOT, process.env.MC_BUILD_DIR || 'build');
export const FLEETSIM_BIN = path.join(BUILD_DIR, 'mc-fleetsim');

const STOP_TIMEOUT_MS = 10000;

const running = new Set();
const tmpDirs = new Set();

process.on('exit', () => {
    for (const sim of running) {
        try {
            sim.proc.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
    for (const dir of tmpDirs) {
        if (process.env.MC_KEEP_TMP) {
            process.stderr.write(`mc-e2e: kept ${dir}\n`);
            continue;
        }
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

export function simDir() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-fleetsim-e2e-'));
    tmpDirs.add(dir);
    return dir;
}

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

function exited(proc) {
    return proc.exitCode !== null || proc.signalCode !== null;
}

function waitForExit(proc) {
    if (exited(proc)) {
        return Promise.resolve();
    }
    proc.ref();
    return new Promise((resolve) => proc.once('exit', resolve));
}

// The child's environment: ours without any MC_* setting, so that a
// developer's settings cannot leak into a test.
function childEnv() {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('MC_')) {
            env[k] = v;
        }
    }
    env.MC_FLEETSIM_CONFIG = '/dev/null';
    return env;
}

// Starts mc-fleetsim against srv with more flags; its stats file is in a
// new temp dir. opts.prefix: a command to run it under (e.g. prlimit).
export function startFleetsim(srv, args = [], opts = {}) {
    if (!fs.existsSync(FLEETSIM_BIN)) {
        throw new Error(`${FLEETSIM_BIN} does not exist; build it first`);
    }
    const dir = opts.dir || simDir();
    const statsPath = path.join(dir, 'stats.json');
    const argv = [
        '--server', srv.url,
        '--stats-file', statsPath,
        '--stats-interval', '100',
        ...args,
    ];
    const cmd = opts.prefix ? opts.prefix[0] : FLEETSIM_BIN;
    const cmdArgs = opts.prefix
        ? [...opts.prefix.slice(1), FLEETSIM_BIN, ...argv] : argv;
    const proc = spawn(cmd, cmdArgs, {
        env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stdout: '', stderr: '' };
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (s) => { out.stdout += s; });
    proc.stderr.on('data', (s) => { out.stderr += s; });
    proc.unref();
    proc.stdout.unref();
    proc.stderr.unref();
    const sim = {
        proc, dir, statsPath,
        stdout: () => out.stdout,
        logs: () => out.stderr,
        exited: () => exited(proc),
        // The stats file, or null before the first write.
        stats: () => {
            try {
                return JSON.parse(fs.readFileSync(statsPath, 'utf8'));
            } catch {
                return null;
            }
        },
        // Polls the stats file until pred(stats) holds; returns them.
        waitStats: async (pred, what, timeoutMs = 20000) => {
            const end = Date.now() + timeoutMs;
            for (;;) {
                const st = sim.stats();
                if (st && pred(st)) {
                    return st;
                }
                if (exited(proc) || Date.now() > end) {
                    throw new Error(`fleetsim: no ${what} within ` +
                        `${timeoutMs} ms; stats: ${JSON.stringify(
                            st && { ...st, arrivalsMs: undefined,
                                    finishedMs: undefined })}\n` +
                        `log:\n${out.stderr.slice(-3000)}`);
                }
                await sleep(50);
            }
        },
        // SIGTERM, then SIGKILL; resolves to the exit code or signal.
        stop: async () => {
            if (!exited(proc)) {
                proc.kill('SIGTERM');
                const t = setTimeout(() => proc.kill('SIGKILL'),
                                     STOP_TIMEOUT_MS);
                await waitForExit(proc);
                clearTimeout(t);
            }
            return proc.exitCode !== null ? proc.exitCode : proc.signalCode;
        },
        // Resolves to the exit code once it ends by itself.
        done: async () => {
            await waitForExit(proc);
            return proc.exitCode !== null ? proc.exitCode : proc.signalCode;
        },
    };
    running.add(sim);
    proc.once('exit', () => running.delete(sim));
    return sim;
}

// The agents a --register-out file lists.
export function readTokens(file) {
    return fs.readFileSync(file, 'utf8').split('\n')
        .filter((l) => l.trim()).map((l) => JSON.parse(l));
}
