// Helpers of `make bench`: start the real mcd, mc-fleetsim and mc-agent
// with their output in files, read /proc, /metrics and the simulator's
// stats file, and stop every process started, by PID, even on failure.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const TOKEN = 'mc_bench_admin_token_0000000000000001';
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux/x86-64

const children = new Set();

// Kills what is still running when bench.mjs exits, however it exits.
export function killAll() {
    for (const p of children) {
        try {
            p.kill('SIGKILL');
        } catch {
            // already gone
        }
    }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
        killAll();
        process.exit(130);
    });
}

export function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

export function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

function cleanEnv(extra = {}) {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (!k.startsWith('MC_')) {
            env[k] = v;
        }
    }
    return { ...env, ...extra };
}

// Starts a program with stdout and stderr in logFile; resolves to
// {proc, pid, exited (a promise of the exit status), alive()}.
export function startProc(bin, args, logFile, env = {}) {
    const fd = fs.openSync(logFile, 'a');
    const proc = spawn(bin, args, {
        env: cleanEnv(env), stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    children.add(proc);
    const p = { proc, pid: proc.pid, bin, logFile, status: null };
    p.exited = new Promise((resolve) => {
        proc.once('exit', (code, signal) => {
            children.delete(proc);
            p.status = code ?? signal;
            resolve(p.status);
        });
    });
    p.alive = () => p.status === null;
    p.stop = async (sig = 'SIGTERM', timeoutMs = 30000) => {
        if (p.alive()) {
            proc.kill(sig);
            const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
            await p.exited;
            clearTimeout(t);
        }
        return p.status;
    };
    return p;
}

export function tail(file, lines = 10) {
    try {
        return fs.readFileSync(file, 'utf8').trimEnd().split('\n')
            .slice(-lines).join('\n');
    } catch {
        return '';
    }
}

// mcd on url's port, its data in dir; resolves once /healthz answers.
export async function startMcd(build, dir, port, extraArgs = []) {
    const p = startProc(path.join(build, 'mcd'), [
        '--listen', `127.0.0.1:${port}`,
        '--db', path.join(dir, 'mc.db'),
        '--key', path.join(dir, 'server.key'),
        ...extraArgs,
    ], path.join(dir, 'mcd.log'), {
        MC_BOOTSTRAP_TOKEN: TOKEN,
        MC_BOOTSTRAP_PASSWORD: 'bench-password-not-secret',
    });
    p.url = `http://127.0.0.1:${port}`;
    p.startedAt = Date.now();
    const end = Date.now() + 15000;
    for (;;) {
        if (!p.alive()) {
            throw new Error(`mcd exited (${p.status}):\n` +
                            tail(p.logFile));
        }
        try {
            const res = await fetch(`${p.url}/healthz`);
            if (res.ok) {
                return p;
            }
        } catch {
            // not listening yet
        }
        if (Date.now() > end) {
            throw new Error(`mcd does not answer:\n${tail(p.logFile)}`);
        }
        await sleep(20);
    }
}

export async function api(url, method, pathname, body) {
    const res = await fetch(url + pathname, {
        method,
        headers: {
            Authorization: `Bearer ${TOKEN}`,
            'Content-Type': 'application/json',
        },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
        json = JSON.parse(text);
    } catch {
        json = null;
    }
    if (res.status >= 300) {
        throw new Error(`${method} ${pathname}: ${res.status} ` +
                        text.slice(0, 300));
    }
    return json;
}

// /metrics as {name or name{labels}: number}.
export async function metrics(url) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const out = {};
    for (const line of text.split('\n')) {
        const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
        if (m) {
            out[m[1]] = Number(m[2]);
        }
    }
    return out;
}

export function commandsWith(m, status) {
    return m[`mc_commands{status="${status}"}`] || 0;
}

// /proc/PID/status VmRSS in KiB.
export function rssKiB(pid) {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(s)[1]);
}

// utime + stime of /proc/PID/stat, in seconds.
export function cpuSeconds(pid) {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

// CPU seconds of each thread of pid: {main, others} (the main thread's id
// is the process id; mcd's other thread is its database worker).
export function threadCpu(pid) {
    const out = { main: 0, others: 0 };
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const s = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
        const cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK;
        if (Number(tid) === pid) {
            out.main += cpu;
        } else {
            out.others += cpu;
        }
    }
    return out;
}

// Describes the CPU mcd used between two threadCpu() readings over ms.
export function cpuUse(a, b, ms) {
    const main = b.main - a.main;
    const others = b.others - a.others;
    const pct = (x) => `${((x * 100000) / ms).toFixed(0)} %`;
    return `mcd CPU: event loop ${main.toFixed(2)} s (${pct(main)}), ` +
        `database worker ${others.toFixed(2)} s (${pct(others)})`;
}

// Resident memory of pid in KiB: {rss, anon, file, pss}.
export function memory(pid) {
    const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const roll = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const get = (text, name) =>
        Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(text)[1]);
    return {
        rss: get(st, 'VmRSS'), anon: get(st, 'RssAnon'),
        file: get(st, 'RssFile'), pss: get(roll, 'Pss'),
    };
}

export function readJson(file) {
    try {
        return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
        return null;
    }
}

// Polls fn() every intervalMs until it returns something truthy.
export async function until(fn, what, timeoutMs, intervalMs = 50) {
    const end = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) {
            return v;
        }
        if (Date.now() > end) {
            throw new Error(`no ${what} within ${timeoutMs} ms`);
        }
        await sleep(intervalMs);
    }
}

export function percentile(sorted, p) {
    if (sorted.length === 0) {
        return NaN;
    }
    const i = Math.min(sorted.length - 1,
                       Math.max(0, Math.ceil(p * sorted.length) - 1));
    return sorted[i];
}
