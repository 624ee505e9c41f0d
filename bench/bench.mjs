// `make bench`: the performance figures of docs/performance.md, each
// measured in this one run on this machine, printed as a table next to its
// target. Usage: node bench/bench.mjs BUILD_DIR (scripts/bench.sh runs it
// with `ulimit -n 20000`, which mcd and the simulator inherit).
//
// MC_BENCH_STREAMS (15000), MC_BENCH_FANOUT (10000), MC_BENCH_AGENT_SECONDS
// (60): the sizes. MC_BENCH_PERF=1: perf record mcd during the connects,
// the fan-out and the storm (reports kept in the data directory).
// MC_BENCH_KEEP=1: keep the data directory (its path is printed).

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
    api, commandsWith, cpuSeconds, cpuUse, freePort, memory, metrics,
    percentile, readJson, rssKiB, sleep, startMcd, startProc, tail,
    threadCpu, TOKEN, until,
} from './lib.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = path.resolve(REPO, process.argv[2] || 'build');
const STREAMS = Number(process.env.MC_BENCH_STREAMS || 15000);
const FANOUT = Math.min(STREAMS, Number(process.env.MC_BENCH_FANOUT || 10000));
const AGENT_SECONDS = Number(process.env.MC_BENCH_AGENT_SECONDS || 60);
const PERF = !!process.env.MC_BENCH_PERF;
// Status reports share this many keep-alive connections of the simulator
// (a real fleet has one per agent; see docs/performance.md).
const REPORT_CONNS = Number(process.env.MC_BENCH_REPORT_CONNS || 16);
const KEEPALIVE_S = 15;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-bench-'));
const rows = [];
const notes = [];

function log(msg) {
    process.stderr.write(`bench: ${msg}\n`);
}

// One line of the table. target: [text, pass(value)] or null.
function row(figure, value, unit, target = null, detail = '') {
    let shown = String(value);
    if (typeof value === 'number') {
        const whole = unit === '' || unit === 'ms' || unit === '/s';
        shown = `${value.toFixed(whole ? 0 : 2)} ${unit}`.trimEnd();
    }
    let verdict = '';
    if (target) {
        verdict = target[1](value) ? 'PASS' : 'MISS';
    }
    rows.push({ figure, value, shown, target: target ? target[0] : '',
                verdict, detail });
}

// perf record -g on mcd while fn runs; the report is kept in dir.
async function profiled(name, mcd, fn) {
    if (!PERF) {
        return fn();
    }
    const data = path.join(dir, `perf-${name}.data`);
    const perfLog = fs.openSync(path.join(dir, `perf-${name}.log`), 'w');
    const perf = spawn('perf', ['record', '--call-graph', 'dwarf,16384',
                                '-F', '499', '-o', data,
                                '-p', String(mcd.pid)],
                       { stdio: ['ignore', perfLog, perfLog] });
    fs.closeSync(perfLog);
    const perfExit = new Promise((resolve) => perf.once('exit', resolve));
    await sleep(300);
    try {
        return await fn();
    } finally {
        perf.kill('SIGINT');
        await perfExit;
        const rep = spawnSync('perf', [
            'report', '-i', data, '--no-children', '--sort', 'dso,symbol',
            '--stdio', '-g', 'none', '--percent-limit', '0.7',
        ], { encoding: 'utf8', maxBuffer: 64 << 20 });
        const threads = spawnSync('perf', [
            'report', '-i', data, '--no-children', '--sort', 'pid',
            '--stdio', '-g', 'none',
        ], { encoding: 'utf8', maxBuffer: 64 << 20 });
        const inclusive = spawnSync('perf', [
            'report', '-i', data, '--children', '--sort', 'sym',
            '--stdio', '-g', 'none', '--percent-limit', '3',
        ], { encoding: 'utf8', maxBuffer: 64 << 20 });
        fs.writeFileSync(path.join(dir, `perf-${name}.txt`),
                         threads.stdout + rep.stdout + inclusive.stdout);
        log(`profile of mcd during ${name}: ${dir}/perf-${name}.txt`);
    }
}

function simStats(statsPath) {
    return readJson(statsPath);
}

async function register(mcd) {
    const tokens = path.join(dir, 'tokens.jsonl');
    const t = Date.now();
    const p = startProc(path.join(BUILD, 'mc-fleetsim'), [
        '--server', mcd.url, '--admin-token', TOKEN,
        '--agents', String(STREAMS), '--register-out', tokens,
        '--register-only', '--log-level', 'warn',
    ], path.join(dir, 'register.log'));
    const status = await p.exited;
    if (status !== 0) {
        throw new Error(`registering failed:\n${tail(p.logFile)}`);
    }
    log(`registered ${STREAMS} locations and nodes in ` +
        `${((Date.now() - t) / 1000).toFixed(1)} s`);
    return tokens;
}

function locationIds(tokens) {
    return fs.readFileSync(tokens, 'utf8').split('\n').filter(Boolean)
        .map((l) => JSON.parse(l).locationId);
}

// 1. Streams held: connect time and the server's memory per stream.
async function streamsHeld(mcd, tokens) {
    const statsPath = path.join(dir, 'stats.json');
    await sleep(500);
    const rss0 = rssKiB(mcd.pid);
    const cpu0 = threadCpu(mcd.pid);
    const sim = startProc(path.join(BUILD, 'mc-fleetsim'), [
        '--server', mcd.url, '--tokens-file', tokens,
        '--stats-file', statsPath, '--stats-interval', '100',
        '--current-version', '1.0.0', '--schema-version', '7',
        // Short back-off: the storm measures the server, not the
        // simulator's patience (docs/performance.md).
        '--backoff-base', '50', '--backoff-max', '500',
        // Many source addresses: each stream's bind() searches its
        // address's port range, slow when the last run's sockets still
        // sit in TIME_WAIT (docs/performance.md).
        '--source-addrs', '16',
        '--report-conns', String(REPORT_CONNS), '--log-level', 'warn',
    ], path.join(dir, 'fleetsim.log'));
    sim.statsPath = statsPath;
    const st = await profiled('connect', mcd, () => until(() => {
        if (!sim.alive()) {
            throw new Error(`mc-fleetsim exited:\n${tail(sim.logFile)}`);
        }
        const s = simStats(statsPath);
        return s && s.online === STREAMS && s.firstAllOnlineAt && s;
    }, `${STREAMS} streams online`, 120000));
    const connectMs = st.firstAllOnlineAt - st.startedAt;
    const cpu = `${cpuUse(cpu0, threadCpu(mcd.pid), connectMs)}; ` +
        `simulator ${cpuSeconds(sim.pid).toFixed(2)} s`;
    await sleep(2000);
    const m = await metrics(mcd.url);
    const rssN = rssKiB(mcd.pid);
    const perStream = (rssN - rss0) / STREAMS;
    row(`streams held (mc_streams_open)`, m.mc_streams_open, '',
        [`>= ${STREAMS}`, (v) => v >= STREAMS]);
    row('server memory per stream', perStream, 'KiB',
        ['<= 8 KiB', (v) => v <= 8],
        `VmRSS ${(rss0 / 1024).toFixed(1)} MiB idle, ` +
        `${(rssN / 1024).toFixed(1)} MiB with ${STREAMS} streams`);
    row(`connect time, all ${STREAMS}`, connectMs, 'ms', null,
        `${st.connectFailures} failed connects; simulator VmRSS ` +
        `${(rssKiB(sim.pid) / 1024).toFixed(0)} MiB; ${cpu}`);
    return sim;
}

// The deploy call; resolves to {t0, answerMs, json}.
async function deploy(mcd, version, ids) {
    const t0 = Date.now();
    const json = await api(mcd.url, 'POST',
        `/api/admin/releases/${version}/deploy`, { locationIds: ids });
    const answerMs = Date.now() - t0;
    if (json.summary.succeeded !== ids.length) {
        throw new Error(`deploy ${version}: ${JSON.stringify(json.summary)}`);
    }
    return { t0, answerMs, json };
}

// 2. Fan-out to FANOUT online locations; 4. status throughput. Progress
// is read from the simulator's stats file, not from the server: polling
// /metrics would queue a whole-table count on the database worker, in
// front of the reports being measured. /metrics confirms at the end.
async function fanOut(mcd, sim, ids) {
    const before = await until(() => simStats(sim.statsPath), 'stats', 5000);
    const m0 = await metrics(mcd.url);
    const ok0 = commandsWith(m0, 'SUCCEEDED');
    const pushed0 = m0.mc_commands_pushed_total;
    const n = ids.length;
    let peakRate = 0;
    const cpu0 = threadCpu(mcd.pid);
    const simCpu0 = cpuSeconds(sim.pid);
    const d = await profiled('fanout', mcd, async () => {
        const dep = await deploy(mcd, '2.0.0', ids);
        // The worker is idle between the commit and the first report, so
        // these few /metrics reads do not delay what is measured.
        dep.pushedMs = await until(async () => {
            const m = await metrics(mcd.url);
            return m.mc_commands_pushed_total >= pushed0 + n &&
                Date.now() - dep.t0;
        }, `${n} commands pushed`, 60000, 10);
        dep.stats = await until(() => {
            const x = simStats(sim.statsPath);
            peakRate = Math.max(peakRate, x?.reportsPerSecond || 0);
            return x && x.finishedMs.length >= before.finishedMs.length + n &&
                x;
        }, `${n} final reports accepted`, 120000, 25);
        return dep;
    });
    const ms = Date.now() - d.t0;
    const simCpu = cpuSeconds(sim.pid) - simCpu0;
    const cpu = `${cpuUse(cpu0, threadCpu(mcd.pid), ms)}; simulator ` +
        `${simCpu.toFixed(2)} s (${((simCpu * 100000) / ms).toFixed(0)} %)`;
    const s = d.stats;
    const okNow = commandsWith(await metrics(mcd.url), 'SUCCEEDED') - ok0;
    const arr = s.arrivalsMs.slice(before.arrivalsMs.length)
        .map((t) => t - d.t0).sort((a, b) => a - b);
    const fin = s.finishedMs.slice(before.finishedMs.length);
    const lastFin = Math.max(...fin) - d.t0;
    row(`fan-out ${n}: deploy call answered`, d.answerMs, 'ms',
        ['<= 500 ms', (v) => v <= 500]);
    row('  first agent has its command', arr[0], 'ms');
    row('  median agent', percentile(arr, 0.5), 'ms');
    row('  99th percentile agent', percentile(arr, 0.99), 'ms');
    row('  last agent', arr[arr.length - 1], 'ms',
        ['<= 600 ms', (v) => v <= 600],
        `${arr.length} of ${n} commands arrived; mcd had written all ` +
        `${n} to their streams ${d.pushedMs} ms after the call ` +
        `(mc_commands_pushed_total, polled every 10 ms)`);
    row(`  all ${n} SUCCEEDED recorded`,
        okNow >= n ? lastFin : `only ${okNow}`, 'ms',
        ['<= 5000 ms', (v) => typeof v === 'number' && v <= 5000],
        `the last final report answered 200; /metrics then showed ` +
        `${okNow} more SUCCEEDED; ${cpu}`);
    // Three reports a command (ACKNOWLEDGED, IN_PROGRESS, SUCCEEDED) over
    // the span from the first arrival to the last accepted final report.
    const span = (lastFin - arr[0]) / 1000;
    row('status reports recorded', (3 * n) / span, '/s', null,
        `${3 * n} reports in ${span.toFixed(2)} s; peak 1 s rate ` +
        `${peakRate}; ${s.reportRetries - before.reportRetries} retries; ` +
        `the simulator sends them over ${REPORT_CONNS} connections`);
}

// 3. mcd restarted under all streams, with a deploy's reports under way.
async function storm(mcd, sim, ids, port, extra) {
    const ok0 = commandsWith(await metrics(mcd.url), 'SUCCEEDED');
    const before = simStats(sim.statsPath);
    const dep = await deploy(mcd, '3.0.0', ids);
    await sleep(300);
    const mid = simStats(sim.statsPath);
    const t1 = Date.now();
    await mcd.stop('SIGTERM');
    const stopMs = Date.now() - t1;
    const next = await startMcd(BUILD, dir, port, extra);
    const t2 = next.startedAt;
    const cpu0 = threadCpu(next.pid);
    const simCpu0 = cpuSeconds(sim.pid);
    const s = await profiled('storm', next, () => until(() => {
        const x = simStats(sim.statsPath);
        return x && x.online === STREAMS && x.allOnlineAt > t2 && x;
    }, `${STREAMS} streams back`, 120000, 25));
    const cpu = `${cpuUse(cpu0, threadCpu(next.pid), Date.now() - t2)}; ` +
        `simulator ${(cpuSeconds(sim.pid) - simCpu0).toFixed(2)} s`;
    const back = await metrics(next.url);
    row(`reconnect storm: all ${STREAMS} online again`,
        s.allOnlineAt - t1, 'ms', ['<= 5000 ms', (v) => v <= 5000],
        `from SIGTERM: mcd took ${stopMs} ms to stop, all were online ` +
        `${s.allOnlineAt - t2} ms after the new mcd was started; ` +
        `mc_streams_open ${back.mc_streams_open}; ` +
        `${s.connectFailures - before.connectFailures} refused connects; ` +
        cpu);
    const after = await until(() => {
        const x = simStats(sim.statsPath);
        return x.succeeded >= before.succeeded + ids.length && x;
    }, 'every command of the storm deploy SUCCEEDED', 120000, 100)
        .catch(() => simStats(sim.statsPath));
    const m = await metrics(next.url);
    const ok = commandsWith(m, 'SUCCEEDED') - ok0;
    const open = ['PENDING', 'DELIVERED', 'ACKNOWLEDGED', 'IN_PROGRESS',
                  'FAILED', 'EXPIRED', 'TIMED_OUT']
        .map((st) => `${st} ${commandsWith(m, st)}`).join(', ');
    row('  commands lost in the storm', ids.length - ok, '',
        ['0', (v) => v === 0],
        `${ok} of ${dep.json.summary.succeeded} SUCCEEDED (/metrics); at ` +
        `SIGTERM ${mid.succeeded - before.succeeded} had finished; ` +
        `${after.duplicates - before.duplicates} redelivered, ` +
        `${after.reportRetries - before.reportRetries} report retries, ` +
        `${after.reportsRejected - before.reportsRejected} refused; ` +
        `now ${open}`);
    return next;
}

// Parses `strace -f -tt` output: syscalls, and bursts of activity (gap
// over a second) with and without a keep-alive read in them.
function wakeups(traceFile) {
    const lines = fs.readFileSync(traceFile, 'utf8').split('\n');
    const events = [];
    for (const line of lines) {
        const m = /^(?:\d+\s+)?(\d\d):(\d\d):(\d\d\.\d+) (\S+?)\(/
            .exec(line);
        if (!m || m[4] === 'restart_syscall' || /resumed>/.test(line)) {
            continue;
        }
        const t = (Number(m[1]) * 3600 + Number(m[2]) * 60 +
                   Number(m[3])) * 1000;
        events.push({ t, line });
    }
    const bursts = [];
    for (const e of events) {
        const b = bursts[bursts.length - 1];
        if (b && e.t - b.last <= 1000) {
            b.last = e.t;
            b.lines.push(e.line);
        } else {
            bursts.push({ first: e.t, last: e.t, lines: [e.line] });
        }
    }
    const other = bursts.filter(
        (b) => !b.lines.some((l) => l.includes('keep-alive')));
    return { syscalls: events.length, bursts: bursts.length, other };
}

// 5. The real mc-agent, idle on its stream, for AGENT_SECONDS.
async function agentFootprint() {
    const adir = path.join(dir, 'agent');
    fs.mkdirSync(path.join(adir, 'state'), { recursive: true });
    const port = await freePort();
    const mcd = await startMcd(BUILD, adir, port,
                               ['--keepalive', String(KEEPALIVE_S)]);
    let agent;
    try {
        const loc = (await api(mcd.url, 'POST', '/api/admin/locations',
            { name: 'bench-agent', timezone: 'UTC' })).location;
        const reg = await api(mcd.url, 'POST',
            `/api/admin/locations/${loc.id}/nodes`, { name: 'bench-node' });
        agent = startProc(path.join(BUILD, 'mc-agent'), [
            '--server', mcd.url, '--token', reg.token,
            '--server-key', reg.serverPublicKey,
            '--node-id', reg.serverNode.id,
            '--state-dir', path.join(adir, 'state'),
            '--schema-version', '7', '--driver', 'exec',
            '--exec-command', 'true',
            '--keepalive', String(KEEPALIVE_S),
        ], path.join(adir, 'agent.log'));
        await until(async () => {
            const m = await metrics(mcd.url);
            return m.mc_streams_open === 1;
        }, 'the agent online', 15000);
        await sleep(1000);
        const trace = path.join(adir, 'strace.txt');
        const cpu0 = cpuSeconds(agent.pid);
        const strace = spawn('strace', [
            '-f', '-tt', '-s', '64', '-o', trace, '-p', String(agent.pid),
        ], { stdio: 'ignore' });
        await sleep(AGENT_SECONDS * 1000);
        strace.kill('SIGINT');
        await new Promise((resolve) => strace.once('exit', resolve));
        const cpu = cpuSeconds(agent.pid) - cpu0;
        const mem = memory(agent.pid);
        const threads = fs.readdirSync(`/proc/${agent.pid}/task`).length;
        const w = wakeups(trace);
        const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
        row('mc-agent idle: resident memory (VmRSS)', mem.rss / 1024, 'MiB',
            ['<= 8 MiB', (v) => v <= 8],
            `${mib(mem.anon)} anonymous + ${mib(mem.file)} mapped files ` +
            `(shared libraries); PSS ${mib(mem.pss)}; ` +
            `${threads} thread(s)`);
        row(`mc-agent idle: CPU over ${AGENT_SECONDS} s`, cpu * 1000, 'ms',
            null, `${((cpu / AGENT_SECONDS) * 100).toFixed(3)} % of a core ` +
            `(utime+stime, under strace)`);
        row('mc-agent idle: wake-ups between keep-alives', w.other.length,
            '', ['0', (v) => v === 0],
            `${w.syscalls} syscalls in ${w.bursts} bursts over ` +
            `${AGENT_SECONDS} s, keep-alive every ${KEEPALIVE_S} s`);
        for (const b of w.other) {
            notes.push(`agent woke without a keep-alive: ${b.lines[0]}`);
        }
    } finally {
        if (agent) {
            await agent.stop();
        }
        await mcd.stop();
    }
}

function printTable() {
    const w = [0, 0, 0, 0];
    const cells = rows.map((r) => [r.figure, r.shown, r.target, r.verdict]);
    const head = ['figure', 'measured', 'target', ''];
    for (const c of [head, ...cells]) {
        c.forEach((v, i) => { w[i] = Math.max(w[i], v.length); });
    }
    const fmt = (c) => c.map((v, i) => v.padEnd(w[i])).join('  ').trimEnd();
    const out = [fmt(head), fmt(w.map((n) => '-'.repeat(n)))];
    for (let i = 0; i < rows.length; i++) {
        out.push(fmt(cells[i]));
        if (rows[i].detail) {
            out.push(`    ${rows[i].detail}`);
        }
    }
    process.stdout.write(out.join('\n') + '\n');
}

function machine() {
    const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
    return `${new Date().toISOString()}  ${os.cpus().length} cores ` +
        `(${os.cpus()[0].model.trim()})  load average ${load}  ` +
        `build ${BUILD}`;
}

async function main() {
    const started = Date.now();
    log(`data in ${dir}`);
    const before = machine();
    const port = await freePort();
    const extra = ['--keepalive', String(KEEPALIVE_S), '--log-level', 'info'];
    let mcd = await startMcd(BUILD, dir, port, extra);
    let sim;
    try {
        for (const v of ['1.0.0', '2.0.0', '3.0.0']) {
            await api(mcd.url, 'POST', '/api/admin/releases',
                      { version: v, imageTag: v });
        }
        const tokens = await register(mcd);
        const ids = locationIds(tokens).slice(0, FANOUT);
        log(`1. ${STREAMS} streams`);
        sim = await streamsHeld(mcd, tokens);
        log(`2. fan-out to ${FANOUT}`);
        await fanOut(mcd, sim, ids);
        log(`3. reconnect storm`);
        mcd = await storm(mcd, sim, ids, port, extra);
        await sim.stop();
        await mcd.stop();
        log(`5. mc-agent idle for ${AGENT_SECONDS} s`);
        await agentFootprint();
    } finally {
        if (sim) {
            await sim.stop();
        }
        await mcd.stop();
    }
    process.stdout.write(`\nmake bench  ${before}\n` +
        `finished in ${((Date.now() - started) / 1000).toFixed(0)} s, ` +
        `load average now ${os.loadavg().map((x) => x.toFixed(2))
            .join(' ')}\n\n`);
    printTable();
    for (const n of notes) {
        process.stdout.write(`note: ${n}\n`);
    }
    fs.mkdirSync(path.join(REPO, 'bench', '.cache'), { recursive: true });
    fs.writeFileSync(path.join(REPO, 'bench', '.cache', 'last.json'),
        JSON.stringify({ when: before, rows, notes }, null, 2));
}

main().then(() => {
    if (process.env.MC_BENCH_KEEP || PERF) {
        log(`kept ${dir}`);
    } else {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}, (err) => {
    log(`failed: ${err.stack || err}`);
    log(`kept ${dir} (logs: mcd.log, fleetsim.log)`);
    process.exitCode = 1;
});
