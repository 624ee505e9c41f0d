// mcctl: every command against a real mcd, run as the real binary, with
// its human output, its --json output and its exit codes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ID_RE, api, startMcd } from './lib/mcd.mjs';
import {
    MCCTL_BIN, assertFails, assertOk, freePort, jsonOf, mcctl, openStream,
    report, spawnMcctl, tableRows, until,
} from './lib/mcctl.mjs';

const USAGE_LINE = /^mcctl: /;

async function apiJson(srv, method, p, body) {
    const res = await api(srv, method, p, { body });
    assert.ok(res.status < 300, `${method} ${p}: ${res.status} ${res.text}`);
    return res.json;
}

describe('mcctl', () => {
    let srv;

    before(async () => {
        srv = await startMcd();
    });

    after(() => srv?.stop());

    describe('help', () => {
        test('--help lists every command, exit 0', async () => {
            const out = assertOk(await mcctl(['--help']));
            for (const cmd of [
                'releases list', 'releases create', 'releases show',
                'releases deploy', 'releases archive', 'locations list',
                'locations create', 'nodes register', 'nodes decommission',
                'commands show', 'commands cancel', 'audit',
                'tokens create']) {
                assert.match(out, new RegExp(`^  ${cmd} `, 'm'), cmd);
            }
            assert.match(out, /--url URL/);
            assert.match(out, /MC_TOKEN/);
        });

        test('a command\'s --help shows its usage and options', async () => {
            const out = assertOk(await mcctl(['releases', 'create',
                                              '--help']));
            assert.match(out, /^Usage: mcctl releases create VERSION /);
            for (const flag of ['--image-tag TAG', '--channel C',
                                '--notes TEXT', '--min-schema N',
                                '--rollback VERSION']) {
                assert.ok(out.includes(flag), flag);
            }
            const deploy = assertOk(await mcctl(['releases', 'deploy',
                                                 '-h']));
            assert.match(deploy, /--all-locations/);
            assert.match(deploy, /--timeout DURATION/);
            const group = assertOk(await mcctl(['nodes', '--help']));
            assert.match(group, /nodes register/);
            assert.doesNotMatch(group, /releases/);
        });

        test('no command: usage on stderr, exit 2', async () => {
            const res = await mcctl([]);
            assert.equal(res.code, 2);
            assert.match(res.stderr, /^Usage: mcctl/);
            assert.equal(res.stdout, '');
        });
    });

    describe('usage errors: exit 2, one line', () => {
        const cases = [
            [['releases', 'list', '--bogus'],
             /^mcctl: unknown option "--bogus" for "releases list"/],
            [['frobnicate'], /^mcctl: unknown command "frobnicate"/],
            [['releases', 'frob'], /^mcctl: unknown command "releases frob"/],
            [['releases', 'create', '9.9.9'],
             /^mcctl: releases create needs --image-tag TAG$/],
            [['releases', 'create'], /^mcctl: missing argument \(usage:/],
            [['releases', 'show', '1.0.0', '2.0.0'],
             /^mcctl: unexpected argument "2.0.0"/],
            [['releases', 'create', '9.9.9', '--image-tag'],
             /^mcctl: option "--image-tag" needs a value$/],
            [['releases', 'create', '9.9.9', '--image-tag', 'a',
              '--image-tag', 'b'], /given twice/],
            [['releases', 'create', '9.9.9', '--image-tag', 'a',
              '--min-schema', 'x'], /^mcctl: invalid --min-schema "x"/],
            [['releases', 'list', '--channel', 'NIGHTLY'],
             /^mcctl: invalid --channel "NIGHTLY"/],
            [['audit', '--limit', '0'], /^mcctl: invalid --limit "0"/],
            [['audit', '--limit', '1001'], /^mcctl: invalid --limit/],
            [['releases', 'deploy', '1.0.0'],
             /needs --location ID or --all-locations/],
            [['releases', 'deploy', '1.0.0', '--location', 'a',
              '--all-locations'], /not both/],
            [['releases', 'deploy', '1.0.0', '--location', 'a',
              '--timeout', '5'], /--timeout goes with --wait/],
            [['releases', 'deploy', '1.0.0', '--location', 'a', '--wait',
              '--timeout', '5x'], /^mcctl: invalid --timeout "5x"/],
            [['locations', 'create', 'Bar'], /needs --timezone TZ/],
            [['nodes', 'register', 'loc'], /needs --name NAME/],
            [['releases', 'list', '-x'], /^mcctl: unknown option "-x"/],
        ];
        for (const [args, re] of cases) {
            test(args.join(' '), async () => {
                assertFails(await mcctl(args, { srv }), 2, re);
            });
        }

        test('no server, no token, a bad URL', async () => {
            assertFails(await mcctl(['releases', 'list'], { token: 'x' }), 2,
                        /^mcctl: no server: use --url, MC_URL/);
            assertFails(await mcctl(['releases', 'list'],
                                    { srv, token: null }),
                        2, /^mcctl: no API token/);
            assertFails(await mcctl(['--url', 'ftp://x', 'audit'], { srv }),
                        2, /^mcctl: invalid --url "ftp:\/\/x"/);
        });

        test('usage errors send nothing to the server', async () => {
            const before = srv.history.length;
            const logs = srv.logs().length;
            await mcctl(['releases', 'create', '7.7.7', '--bogus'], { srv });
            assert.equal(srv.history.length, before);
            assert.doesNotMatch(srv.logs().slice(logs), /7\.7\.7/);
            const res = await api(srv, 'GET', '/api/admin/releases/7.7.7');
            assert.equal(res.status, 404);
        });
    });

    describe('connection and credentials', () => {
        test('unreachable server: exit 1, "cannot reach"', async () => {
            const port = await freePort();
            const url = `http://127.0.0.1:${port}`;
            const res = await mcctl(['releases', 'list'],
                                    { token: 'x', env: { MC_URL: url } });
            assertFails(res, 1, new RegExp(
                `^mcctl: cannot reach ${url}: \\S`));
        });

        test('wrong token: exit 1, UNAUTHORIZED', async () => {
            const res = await mcctl(['releases', 'list'],
                                    { srv, token: 'not-a-token' });
            assertFails(res, 1, /^mcctl: UNAUTHORIZED: \S/);
        });

        test('--url and --token beat the environment', async () => {
            const port = await freePort();
            const res = await mcctl(
                ['--url', srv.url, 'releases', 'list', '--token', srv.token],
                { token: 'wrong',
                  env: { MC_URL: `http://127.0.0.1:${port}` } });
            assertOk(res);
        });

        test('the config file: MCCTL_CONFIG and ~/.config/mcctl/config',
             async () => {
                 const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcctl-'));
                 try {
                     const file = path.join(dir, 'cfg');
                     fs.writeFileSync(file, `# mcctl\nurl = ${srv.url}/\n` +
                                      `token = ${srv.token}\n`);
                     assertOk(await mcctl(['audit', '--limit', '1'], {
                         token: null, env: { MCCTL_CONFIG: file },
                     }));
                     const home = path.join(dir, 'home');
                     fs.mkdirSync(path.join(home, '.config', 'mcctl'),
                                  { recursive: true });
                     fs.copyFileSync(file, path.join(home, '.config',
                                                     'mcctl', 'config'));
                     assertOk(await mcctl(['audit', '--limit', '1'], {
                         token: null, env: { HOME: home },
                     }));
                     // The environment beats the file.
                     const res = await mcctl(['audit'], {
                         token: 'wrong', env: { HOME: home },
                     });
                     assertFails(res, 1, /^mcctl: UNAUTHORIZED/);
                     fs.writeFileSync(file, 'colour = blue\n');
                     assertFails(await mcctl(['audit'], {
                         srv, env: { MCCTL_CONFIG: file },
                     }), 2, /unknown setting "colour"/);
                 } finally {
                     fs.rmSync(dir, { recursive: true, force: true });
                 }
             });
    });

    describe('releases', () => {
        test('create, human and --json', async () => {
            const out = assertOk(await mcctl([
                'releases', 'create', '1.0.0', '--image-tag', 'pos:1.0.0',
                '--notes', 'first one'], { srv }));
            assert.equal(out,
                         'created release 1.0.0 (STABLE, image pos:1.0.0, ' +
                         'latest)\n');
            const json = jsonOf(await mcctl([
                'releases', 'create', '1.1.0-rc.1', '--image-tag', '1.1.0-rc.1',
                '--channel', 'beta', '--min-schema', '42', '--rollback',
                '1.0.0', '--json'], { srv }));
            assert.deepEqual(Object.keys(json), ['release']);
            const rel = json.release;
            assert.match(rel.id, ID_RE);
            assert.equal(rel.channel, 'BETA');
            assert.equal(rel.minSchemaVersion, 42);
            assert.equal(rel.rollbackVersion, '1.0.0');
            const stored = await apiJson(srv, 'GET',
                                         '/api/admin/releases/1.1.0-rc.1');
            assert.deepEqual(stored.release, rel);
            const first = await apiJson(srv, 'GET',
                                        '/api/admin/releases/1.0.0');
            assert.equal(first.release.releaseNotes, 'first one');
        });

        test('--notes-file - reads standard input', async () => {
            const notes = 'Line one\nLine two\n';
            assertOk(await mcctl(['releases', 'create', '1.2.0',
                                  '--image-tag', '1.2.0', '--notes-file',
                                  '-'], { srv, input: notes }));
            const got = await apiJson(srv, 'GET', '/api/admin/releases/1.2.0');
            assert.equal(got.release.releaseNotes, notes);
        });

        test('API errors: exit 1, "mcctl: CODE: message"', async () => {
            assertFails(await mcctl(['releases', 'create', '1.0.0',
                                     '--image-tag', 'x'], { srv }),
                        1, /^mcctl: VERSION_EXISTS: \S/);
            assertFails(await mcctl(['releases', 'create', 'v2',
                                     '--image-tag', 'x'], { srv }),
                        1, /^mcctl: VALIDATION_ERROR: \S/);
            assertFails(await mcctl(['releases', 'show', '9.9.9'], { srv }),
                        1, /^mcctl: RELEASE_NOT_FOUND: \S/);
            assertFails(await mcctl(['releases', 'show', '9.9.9', '--json'],
                                    { srv }),
                        1, /^mcctl: RELEASE_NOT_FOUND: \S/);
        });

        test('list: a table by default, the API\'s JSON with --json',
             async () => {
                 const rows = tableRows(assertOk(await mcctl(
                     ['releases', 'list'], { srv })));
                 assert.deepEqual(rows[0], ['VERSION', 'CHANNEL', 'STATE',
                                            'IMAGE', 'DEPLOYS', 'CREATED',
                                            'BY']);
                 const byVersion = Object.fromEntries(
                     rows.slice(1).map((r) => [r[0], r]));
                 assert.equal(byVersion['1.2.0'][2], 'latest');
                 assert.equal(byVersion['1.0.0'][2], '-');
                 assert.equal(byVersion['1.1.0-rc.1'][1], 'BETA');
                 assert.match(byVersion['1.0.0'][5], /^(\d+s ago|just now)$/);
                 assert.equal(byVersion['1.0.0'][6], 'admin@example.com');
                 const json = jsonOf(await mcctl(['releases', 'list',
                                                  '--json'], { srv }));
                 const direct = await apiJson(srv, 'GET',
                                              '/api/admin/releases');
                 assert.deepEqual(json, direct);
                 const beta = jsonOf(await mcctl(
                     ['releases', 'list', '--channel', 'BETA', '--json'],
                     { srv }));
                 assert.deepEqual(beta.releases.map((r) => r.version),
                                  ['1.1.0-rc.1']);
                 const one = jsonOf(await mcctl(
                     ['--json', 'releases', 'list', '--limit', '1'],
                     { srv }));
                 assert.equal(one.releases.length, 1);
             });

        test('show: fields by name, --json untouched', async () => {
            const out = assertOk(await mcctl(['releases', 'show',
                                              '1.1.0-rc.1'], { srv }));
            assert.match(out, /^Version: +1\.1\.0-rc\.1$/m);
            assert.match(out, /^Channel: +BETA$/m);
            assert.match(out, /^Min schema: +42$/m);
            assert.match(out, /^Rollback to: +1\.0\.0$/m);
            assert.match(out, /by Administrator <admin@example.com>$/m);
            assert.match(out, /^No deployments\.$/m);
            const json = jsonOf(await mcctl(['releases', 'show', '1.0.0',
                                             '--json'], { srv }));
            assert.deepEqual(json, await apiJson(srv, 'GET',
                                                 '/api/admin/releases/1.0.0'));
        });

        test('a version with build metadata is named as is', async () => {
            assertOk(await mcctl(['releases', 'create', '3.0.0+build.7',
                                  '--image-tag', '3.0.0_build.7'], { srv }));
            const json = jsonOf(await mcctl(['releases', 'show',
                                             '3.0.0+build.7', '--json'],
                                            { srv }));
            assert.equal(json.release.version, '3.0.0+build.7');
        });

        test('control characters from the server are not printed raw',
             async () => {
                 assertOk(await mcctl(['releases', 'create', '3.1.0',
                                       '--image-tag', '3.1.0', '--notes',
                                       'red \u001b[31m alert\nnext'],
                                      { srv }));
                 const out = assertOk(await mcctl(['releases', 'show',
                                                   '3.1.0'], { srv }));
                 assert.ok(!out.includes('\u001b'), out);
                 assert.match(out, /^red \?\[31m alert$/m);
                 assert.match(out, /^next$/m);
             });

        test('archive: exit 0, then RELEASE_ARCHIVED', async () => {
            assert.equal(assertOk(await mcctl(['releases', 'archive',
                                               '3.1.0'], { srv })),
                         'archived release 3.1.0\n');
            const got = await apiJson(srv, 'GET', '/api/admin/releases/3.1.0');
            assert.equal(got.release.isArchived, true);
            assertFails(await mcctl(['releases', 'archive', '3.1.0'],
                                    { srv }),
                        1, /^mcctl: RELEASE_ARCHIVED: /);
            const listed = jsonOf(await mcctl(['releases', 'list', '--json'],
                                              { srv }));
            assert.ok(!listed.releases.some((r) => r.version === '3.1.0'));
            const all = jsonOf(await mcctl(['releases', 'list', '--all',
                                            '--json'], { srv }));
            assert.ok(all.releases.some((r) => r.version === '3.1.0'));
            const json = jsonOf(await mcctl(['releases', 'archive',
                                             '3.0.0+build.7', '--json'],
                                            { srv }));
            assert.equal(json.release.isArchived, true);
        });
    });

    describe('tokens and audit', () => {
        test('tokens create: shown once, and it works', async () => {
            const out = assertOk(await mcctl(['tokens', 'create', 'ci'],
                                             { srv }));
            const m = /^token: (\S+)$/m.exec(out);
            assert.ok(m, out);
            assertOk(await mcctl(['audit', '--limit', '1'],
                                 { srv, token: m[1] }));
            const json = jsonOf(await mcctl(['tokens', 'create', 'ci2',
                                             '--json'], { srv }));
            assert.equal(json.apiToken.name, 'ci2');
            assert.equal(typeof json.token, 'string');
        });

        test('audit: a table, --limit, --json untouched', async () => {
            const rows = tableRows(assertOk(await mcctl(
                ['audit', '--limit', '3'], { srv })));
            assert.deepEqual(rows[0], ['TIME', 'ACTOR', 'ACTION', 'TARGET',
                                       'DETAILS']);
            assert.equal(rows.length, 4);
            assert.equal(rows[1][2], 'token.create');
            assert.equal(rows[1][4], 'name=ci2');
            const json = jsonOf(await mcctl(['audit', '--json', '--limit',
                                             '2'], { srv }));
            assert.deepEqual(json, await apiJson(srv, 'GET',
                                                 '/api/admin/audit?limit=2'));
            const older = jsonOf(await mcctl(
                ['audit', '--json', '--before', json.entries[1].id], { srv }));
            assert.ok(older.entries.every((e) => e.id < json.entries[1].id));
            assert.ok(older.entries.some((e) => e.action ===
                                         'release.archive'));
        });
    });
    describe('locations, nodes, deploy, commands', () => {
        let bar;      // a location with a node
        let shop;     // a location without one
        let node;     // {serverNode, token, serverPublicKey} of bar's node

        const idOf = (res) => jsonOf(res).location.id;

        // Deploys version to locations with --wait; plays bar's node,
        // which answers the command with `final`; returns the result and
        // what the node saw.
        async function deployAndPlay(version, locations, final, extra = []) {
            const args = ['releases', 'deploy', version, '--wait',
                          '--timeout', '30', ...extra];
            for (const l of locations) {
                args.push('--location', l);
            }
            const run = spawnMcctl(args, { srv });
            const cmdId = await until(() => {
                const re = new RegExp(`^${bar} +Bar Süd +deployed +(\\S+)$`,
                                      'm');
                const m = re.exec(run.stdout());
                return m && m[1];
            }, 10000, 'the deploy table');
            const stream = await openStream(srv, node.token,
                                            '?schemaVersion=50');
            let ev;
            do {
                ev = await stream.next();
            } while (ev.id !== cmdId);
            await report(srv, node.token, cmdId, 'ACKNOWLEDGED');
            await report(srv, node.token, cmdId, 'IN_PROGRESS');
            await report(srv, node.token, cmdId, final, `${final} here`);
            const res = await run.done;
            stream.close();
            return { res, cmdId, ev };
        }

        test('locations create and list', async () => {
            const out = assertOk(await mcctl(['locations', 'create',
                                              'Bar Süd', '--timezone',
                                              'Europe/Berlin'], { srv }));
            const m = /^created location Bar Süd \(Europe\/Berlin, id (\S+)\)$/
                .exec(out.trimEnd());
            assert.ok(m, out);
            bar = m[1];
            shop = idOf(await mcctl(['locations', 'create', 'Shop',
                                     '--timezone', 'UTC', '--json'],
                                    { srv }));
            assert.match(shop, ID_RE);
            assertFails(await mcctl(['locations', 'create', 'X', '--timezone',
                                     'Mars/Olympus'], { srv }),
                        1, /^mcctl: VALIDATION_ERROR: /);
            const rows = tableRows(assertOk(await mcctl(
                ['locations', 'list'], { srv })));
            assert.deepEqual(rows[0], ['ID', 'NAME', 'TIMEZONE', 'NODE',
                                       'CURRENT', 'TARGET', 'LAST SEEN']);
            assert.deepEqual(rows.slice(1).map((r) => r.slice(0, 4)), [
                [shop, 'Shop', 'UTC', 'no node'],
                [bar, 'Bar Süd', 'Europe/Berlin', 'no node'],
            ]);
            const json = jsonOf(await mcctl(['locations', 'list', '--json'],
                                            { srv }));
            assert.deepEqual(json, await apiJson(srv, 'GET',
                                                 '/api/admin/locations'));
        });

        test('nodes register: the token and key, shown once', async () => {
            const out = assertOk(await mcctl(['nodes', 'register', shop,
                                              '--name', 'pos-shop'],
                                             { srv }));
            const token = /^agent token: +(\S+)$/m.exec(out);
            const key = /^server public key: +(\S+)$/m.exec(out);
            assert.ok(token && key, out);
            assert.equal(Buffer.from(key[1], 'base64').length, 32);
            // The token is the node's: it opens the node's stream.
            const stream = await openStream(srv, token[1]);
            stream.close();
            node = jsonOf(await mcctl(['nodes', 'register', bar, '--name',
                                       'pos-bar', '--json'], { srv }));
            assert.deepEqual(Object.keys(node).sort(),
                             ['serverNode', 'serverPublicKey', 'token']);
            assert.equal(node.serverNode.locationId, bar);
            assert.equal(node.serverPublicKey, key[1]);
            assertFails(await mcctl(['nodes', 'register', bar, '--name',
                                     'again'], { srv }),
                        1, /^mcctl: NODE_EXISTS: /);
            assertFails(await mcctl(['nodes', 'register', 'nosuchlocation',
                                     '--name', 'n'], { srv }),
                        1, /^mcctl: LOCATION_NOT_FOUND: /);
        });

        test('nodes decommission: the shop has no node again', async () => {
            const loc = (await apiJson(srv, 'GET', '/api/admin/locations'))
                .locations.find((l) => l.id === shop);
            const id = loc.serverNode.id;
            assert.equal(assertOk(await mcctl(['nodes', 'decommission', id],
                                              { srv })),
                         `decommissioned node ${id}\n`);
            const after = (await apiJson(srv, 'GET', '/api/admin/locations'))
                .locations.find((l) => l.id === shop);
            assert.equal(after.serverNode, null);
            assertFails(await mcctl(['nodes', 'decommission', 'nosuchnode'],
                                    { srv }),
                        1, /^mcctl: NODE_NOT_FOUND: /);
        });

        test('deploy, mixed: one line per location, exit 3', async () => {
            assertOk(await mcctl(['releases', 'create', '4.0.0',
                                  '--image-tag', '4.0.0'], { srv }));
            const res = await mcctl(['releases', 'deploy', '4.0.0',
                                     '--location', bar, '--location', shop],
                                    { srv });
            assert.equal(res.code, 3, res.stderr);
            const rows = tableRows(res.stdout);
            assert.deepEqual(rows[0], ['LOCATION', 'NAME', 'RESULT',
                                       'DETAIL']);
            assert.equal(rows.length, 3);
            const byLoc = Object.fromEntries(rows.slice(1)
                .map((r) => [r[0], r]));
            assert.equal(byLoc[bar][1], 'Bar Süd');
            assert.equal(byLoc[bar][2], 'deployed');
            assert.match(byLoc[bar][3], ID_RE);
            assert.equal(byLoc[shop][2], 'NO_ACTIVE_SERVER');
            const cmd = await apiJson(srv, 'GET',
                                      `/api/admin/commands/${byLoc[bar][3]}`);
            assert.equal(cmd.command.status, 'PENDING');
        });

        test('deploy --json: the API\'s answer, exit 3, 1, 0', async () => {
            const mixed = jsonOf(await mcctl(
                ['releases', 'deploy', '4.0.0', `--location=${bar},${shop}`,
                 '--json'], { srv }), 3);
            assert.deepEqual(mixed.summary, { succeeded: 1, failed: 1 });
            assert.equal(mixed.results.length, 2);
            const none = jsonOf(await mcctl(
                ['releases', 'deploy', '4.0.0', '--location', shop, '--json'],
                { srv }), 1);
            assert.equal(none.results[0].error.code, 'NO_ACTIVE_SERVER');
            const all = jsonOf(await mcctl(
                ['releases', 'deploy', '4.0.0', '--location', bar, '--json'],
                { srv }), 0);
            assert.deepEqual(all.summary, { succeeded: 1, failed: 0 });
            const every = jsonOf(await mcctl(
                ['releases', 'deploy', '4.0.0', '--all-locations', '--json'],
                { srv }), 3);
            assert.deepEqual(every.results.map((r) => r.locationId).sort(),
                             [bar, shop].sort());
        });

        test('deploy failures: exit 1 with the API\'s error', async () => {
            const res = await mcctl(['releases', 'deploy', '4.0.0',
                                     '--location', shop], { srv });
            assert.equal(res.code, 1);
            assert.match(res.stdout, /NO_ACTIVE_SERVER/);
            assertFails(await mcctl(['releases', 'deploy', '9.9.9',
                                     '--location', bar], { srv }),
                        1, /^mcctl: RELEASE_NOT_FOUND: /);
            assertFails(await mcctl(['releases', 'deploy', '3.1.0',
                                     '--location', bar], { srv }),
                        1, /^mcctl: RELEASE_ARCHIVED: /);
            const unknown = await mcctl(['releases', 'deploy', '4.0.0',
                                         '--location', 'nosuchlocation'],
                                        { srv });
            assert.equal(unknown.code, 1);
            assert.match(unknown.stdout,
                         /nosuchlocation +- +LOCATION_NOT_FOUND/);
        });

        test('commands show and cancel', async () => {
            const dep = jsonOf(await mcctl(
                ['releases', 'deploy', '4.0.0', '--location', bar, '--json'],
                { srv }));
            const id = dep.results[0].commandId;
            const out = assertOk(await mcctl(['commands', 'show', id],
                                             { srv }));
            assert.match(out, /^status +PENDING$/m);
            assert.match(out, /^version +4\.0\.0$/m);
            const shown = jsonOf(await mcctl(['commands', 'show', id,
                                              '--json'], { srv }));
            assert.deepEqual(shown, await apiJson(
                srv, 'GET', `/api/admin/commands/${id}`));
            assert.equal(assertOk(await mcctl(['commands', 'cancel', id],
                                              { srv })),
                         `cancelled command ${id}\n`);
            const after = await apiJson(srv, 'GET',
                                        `/api/admin/commands/${id}`);
            assert.equal(after.command.status, 'CANCELLED');
            assertFails(await mcctl(['commands', 'cancel', id], { srv }),
                        1, /^mcctl: INVALID_TRANSITION: /);
            assertFails(await mcctl(['commands', 'show', 'nosuchcommand'],
                                    { srv }),
                        1, /^mcctl: COMMAND_NOT_FOUND: /);
        });

        test('--wait follows the command to SUCCEEDED, exit 0', async () => {
            const { res, cmdId, ev } = await deployAndPlay('4.0.0', [bar],
                                                           'SUCCEEDED');
            assert.equal(res.code, 0, res.stderr);
            assert.equal(ev.release.version, '4.0.0');
            assert.match(res.stdout, /^waiting for 1 command /m);
            assert.match(res.stdout, new RegExp(
                `^${bar} Bar Süd ${cmdId} SUCCEEDED: SUCCEEDED here$`, 'm'));
            assert.match(res.stdout, /^1 of 1 locations succeeded$/m);
            const loc = (await apiJson(srv, 'GET', '/api/admin/locations'))
                .locations.find((l) => l.id === bar);
            assert.equal(loc.serverNode.currentVersion, '4.0.0');
        });

        test('--wait, mixed outcome: exit 3; --json has the commands',
             async () => {
                 assertOk(await mcctl(['releases', 'create', '4.1.0',
                                       '--image-tag', '4.1.0'], { srv }));
                 const run = spawnMcctl(['releases', 'deploy', '4.1.0',
                                         '--location', bar, '--location',
                                         shop, '--wait', '--json'], { srv });
                 const cmd = await until(async () => {
                     const d = await apiJson(srv, 'GET',
                                             '/api/admin/releases/4.1.0');
                     return d.deployments[0];
                 }, 10000, 'the command');
                 const stream = await openStream(srv, node.token);
                 let ev;
                 do {
                     ev = await stream.next();
                 } while (ev.id !== cmd.id);
                 for (const st of ['ACKNOWLEDGED', 'IN_PROGRESS',
                                   'SUCCEEDED']) {
                     await report(srv, node.token, cmd.id, st);
                 }
                 const out = jsonOf(await run.done, 3);
                 stream.close();
                 assert.deepEqual(out.deploy.summary,
                                  { succeeded: 1, failed: 1 });
                 assert.equal(out.commands.length, 1);
                 assert.equal(out.commands[0].id, cmd.id);
                 assert.equal(out.commands[0].status, 'SUCCEEDED');
             });

        test('--wait, the node fails: exit 1', async () => {
            assertOk(await mcctl(['releases', 'create', '4.2.0',
                                  '--image-tag', '4.2.0'], { srv }));
            const { res, cmdId } = await deployAndPlay('4.2.0', [bar],
                                                       'FAILED');
            assert.equal(res.code, 1, res.stderr);
            assert.match(res.stdout, new RegExp(
                `^${bar} Bar Süd ${cmdId} FAILED: FAILED here$`, 'm'));
            assert.match(res.stdout, /^0 of 1 locations succeeded$/m);
        });

        test('--wait ends on a cancel; --timeout gives up', async () => {
            const run = spawnMcctl(['releases', 'deploy', '4.2.0',
                                    '--location', bar, '--wait'], { srv });
            const id = await until(() => {
                const m = /deployed +(\S+)$/m.exec(run.stdout());
                return m && m[1];
            }, 10000, 'the deploy table');
            assertOk(await mcctl(['commands', 'cancel', id], { srv }));
            const res = await run.done;
            assert.equal(res.code, 1, res.stderr);
            assert.match(res.stdout, new RegExp(`${id} CANCELLED: \\S`, 'm'));

            const t0 = Date.now();
            const slow = await mcctl(['releases', 'deploy', '4.2.0',
                                      '--location', bar, '--wait',
                                      '--timeout', '2s'], { srv });
            assert.equal(slow.code, 1);
            assert.ok(Date.now() - t0 >= 2000);
            assert.match(slow.stderr,
                         /^mcctl: gave up after 2s: 1 command not finished$/m);
        });

        test('a --token flag is hidden from the process list', async () => {
            const run = spawnMcctl(['releases', 'deploy', '4.2.0',
                                    '--location', bar, '--wait',
                                    '--timeout', '3', '--token', srv.token],
                                   { srv, token: null });
            await until(() => /waiting for/.test(run.stdout()), 10000,
                        'the wait');
            const cmdline = fs.readFileSync(`/proc/${run.proc.pid}/cmdline`,
                                            'utf8');
            assert.match(cmdline, /--token\0x+\0/);
            assert.ok(!cmdline.includes(srv.token));
            await run.done;
            assert.ok(!srv.logs().includes(srv.token));
        });

        test('--wait on a terminal shows progress', async () => {
            // script(1) gives mcctl a pseudo-terminal as standard output.
            const cmd = [`'${MCCTL_BIN}'`,
                         'releases', 'deploy', '4.2.0', '--location', bar,
                         '--wait', '--timeout', '2'].join(' ');
            const res = await mcctl([], {
                srv, command: 'script', args: ['-qec', cmd, '/dev/null'],
            });
            assert.equal(res.code, 1, res.stdout);
            assert.match(res.stdout,
                         /\r\x1b\[Kwaiting: 0\/1 finished, 0 succeeded \(/);
            // Not finished: no line of its own, only the progress.
            assert.doesNotMatch(res.stdout, / PENDING\r?\n/);
            assert.match(res.stdout, /0 of 1 locations succeeded/);
        });
    });
});
