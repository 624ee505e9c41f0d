// The web dashboard, driven in a real chromium against a real mcd whose
// nodes hold real command streams: sign in, create a release (and see the
// API's validation error next to the field), deploy it to four locations
// (online, offline, without hardware, blocked by the schema gate), watch
// the online node's command advance live, the fleet and audit views,
// archive, sign out.
//
// Needs: the mcd build (MC_BUILD_DIR), /usr/bin/chromium, npm ci.
// Failed steps leave screenshots in tests/browser/screenshots/;
// MC_SCREENSHOTS=1 keeps one of every view there too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { api, assertOk, startMcd } from '../e2e/lib/mcd.mjs';
import { startBrowser, screenshot } from './lib/browser.mjs';
import {
    eventually, makeLocation, openStream, report,
} from './lib/agent.mjs';

const LIVE_MS = 8000; // the detail view polls every 2 s

let srv;
let browser;
let page;
const streams = [];
const fleet = {};

async function locationById(id) {
    const { locations } = assertOk(await api(srv, 'GET',
                                             '/api/admin/locations'));
    return locations.find((l) => l.id === id);
}

before(async () => {
    srv = await startMcd();
    // Online, at schema 50.
    fleet.online = await makeLocation(srv, 'Berlin Mitte');
    // Seen once at schema 50, offline now: a deploy still queues.
    fleet.offline = await makeLocation(srv, 'Hamburg Hafen');
    // No node at all.
    fleet.bare = await makeLocation(srv, 'Munich East', false);
    // Online, but its schema is older than the release needs.
    fleet.old = await makeLocation(srv, 'Cologne Cathedral');

    streams.push(await openStream(srv, fleet.online.token,
                                  { currentVersion: '1.0.0',
                                    schemaVersion: 50 }));
    const gone = await openStream(srv, fleet.offline.token,
                                  { currentVersion: '1.0.0',
                                    schemaVersion: 50 });
    await eventually(async () => (await locationById(
        fleet.offline.location.id)).serverNode.online, 'Hamburg online');
    await gone.close();
    await eventually(async () => !(await locationById(
        fleet.offline.location.id)).serverNode.online, 'Hamburg offline');
    streams.push(await openStream(srv, fleet.old.token,
                                  { currentVersion: '0.9.0',
                                    schemaVersion: 10 }));
    await eventually(async () => (await locationById(
        fleet.old.location.id)).serverNode.online, 'Cologne online');

    browser = await startBrowser();
    page = browser.page;
    page.setDefaultTimeout(10000);
});

after(async () => {
    for (const s of streams) {
        await s.close();
    }
    if (browser) {
        await browser.close();
    }
    if (srv) {
        // A clean exit: no crash, and no sanitizer report in an ASan build.
        const code = await srv.stop();
        assert.equal(code, 0, `mcd exited with ${code}:\n${srv.logs()}`);
    }
});

// Runs one step; a failure keeps a screenshot of the page as it was, and
// skips the steps after it (they build on it).
let failed = false;
function step(name, fn) {
    test(name, async (t) => {
        if (failed) {
            t.skip('an earlier step failed');
            return;
        }
        try {
            await fn();
        } catch (err) {
            failed = true;
            const file = await screenshot(page, `failed-${name}`);
            if (file) {
                err.message += `\n(screenshot: ${file})`;
            }
            throw err;
        }
    });
}

const dialog = () => page.locator('dialog[open]');

step('the dashboard is served with a strict policy', async () => {
    const root = await api(srv, 'GET', '/', { token: null });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/dashboard/releases');

    const deep = await api(srv, 'GET', '/dashboard/releases/whatever',
                           { token: null });
    assert.equal(deep.status, 200);
    assert.match(deep.headers.get('content-type'), /^text\/html/);
    const csp = deep.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(deep.headers.get('x-content-type-options'), 'nosniff');
    const etag = deep.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]+"$/);
    assert.match(deep.headers.get('cache-control'), /no-cache/);
    const again = await api(srv, 'GET', '/dashboard/fleet', {
        token: null, headers: { 'If-None-Match': etag },
    });
    assert.equal(again.status, 304);

    const js = await api(srv, 'GET', '/dashboard/vendor/preact.mjs',
                         { token: null });
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type'), /^text\/javascript/);
    // Vendored modules import each other by URL, never by bare name.
    const hooks = await api(srv, 'GET', '/dashboard/vendor/hooks.mjs',
                            { token: null });
    assert.doesNotMatch(hooks.text, /from\s*["']preact["']/);
    const missing = await api(srv, 'GET', '/dashboard/assets/nope.js',
                              { token: null });
    assert.equal(missing.status, 404);
    // The API keeps its own answers.
    assert.equal((await api(srv, 'GET', '/healthz', { token: null })).status,
                 200);
    assert.equal((await api(srv, 'GET', '/api/nope', { token: null })).status,
                 404);
});

step('sign in', async () => {
    await page.goto(srv.url + '/');
    await page.waitForURL('**/dashboard/releases');
    await page.getByLabel('Email').fill(srv.email);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password' })
        .waitFor();
    await page.getByLabel('Password').fill(srv.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const who = page.getByTestId('who');
    await who.waitFor();
    assert.match(await who.innerText(), /Default organization/);
    await page.getByRole('heading', { name: 'Releases' }).waitFor();
    await screenshot(page, 'view-releases-empty', { view: true });
});

step('create a release: the API error shows next to the field', async () => {
    await page.getByRole('button', { name: 'Create release' }).click();
    await dialog().waitFor();
    // Focus starts in the dialog and Tab never leaves it.
    for (let i = 0; i < 15; i++) {
        await page.keyboard.press('Tab');
        assert.ok(await page.evaluate(
            () => !!document.activeElement.closest('dialog[open]')),
                  `focus left the dialog after ${i + 1} Tab presses`);
    }
    await page.getByLabel('Version', { exact: true }).fill('1.x');
    await page.getByLabel('Image tag').fill('registry:5000/pos/app:2.0.0');
    await page.getByRole('button', { name: 'Create release' }).last().click();
    const err = page.locator('#rel-version-error');
    await err.waitFor();
    assert.match(await err.innerText(), /1\.x/);
    assert.equal(await page.getByLabel('Version', { exact: true })
        .getAttribute('aria-invalid'), 'true');
    // The message sits in the version's own field, and nowhere else.
    assert.equal(await page.locator('.field.has-error').count(), 1);
    assert.equal(await page.locator('.field.has-error #rel-version')
        .count(), 1);
    await screenshot(page, 'view-create-release-error', { view: true });

    await page.getByLabel('Version', { exact: true }).fill('2.0.0');
    await page.getByLabel('Minimum schema version').fill('42');
    await page.getByLabel('Rollback version').fill('1.0.0');
    await page.getByLabel('Release notes')
        .fill('Faster checkout.\nNew receipt layout.');
    await page.getByRole('button', { name: 'Create release' }).last().click();
    await dialog().waitFor({ state: 'detached' });
    const row = page.locator('tr[data-version="2.0.0"]');
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /Latest/);
    assert.match(text, /0 deploys/);
    const { releases } = assertOk(await api(srv, 'GET',
                                            '/api/admin/releases'));
    assert.equal(releases.length, 1);
    assert.equal(releases[0].minSchemaVersion, 42);
    fleet.release = releases[0];
    await screenshot(page, 'view-releases', { view: true });
});

step('Escape closes a dialog without changing anything', async () => {
    await page.getByRole('button', { name: 'Archive 2.0.0' }).click();
    await dialog().waitFor();
    await page.keyboard.press('Escape');
    await dialog().waitFor({ state: 'detached' });
    const { releases } = assertOk(await api(srv, 'GET',
                                            '/api/admin/releases'));
    assert.equal(releases.length, 1);
});

step('deploy to four locations and read four results', async () => {
    await page.getByRole('button', { name: 'Deploy 2.0.0' }).click();
    const dlg = dialog();
    await dlg.waitFor();
    assert.match(await dlg.innerText(), /Faster checkout/);
    const row = (name) => dlg.locator(`li.loc-row[data-location="${name}"]`);
    await row('Berlin Mitte').waitFor();
    assert.match(await row('Berlin Mitte').innerText(), /Online/);
    assert.match(await row('Berlin Mitte').innerText(), /1\.0\.0/);
    assert.doesNotMatch(await row('Berlin Mitte').innerText(), /blocks/);
    assert.match(await row('Hamburg Hafen').innerText(), /Offline/);
    assert.match(await row('Munich East').innerText(), /No hardware/);
    assert.match(await row('Cologne Cathedral').innerText(),
                 /Schema gate blocks/);

    await dlg.getByLabel('Filter by name').fill('hamb');
    assert.equal(await dlg.locator('li.loc-row').count(), 1);
    await dlg.getByLabel('Filter by name').fill('');
    assert.equal(await dlg.locator('li.loc-row').count(), 4);
    await dlg.getByLabel(/Select all/).check();
    await dlg.getByText('4 selected').waitFor();
    await dlg.getByRole('button', { name: 'Deploy to 4 locations' }).click();

    const result = (name) => dlg.locator(
        `.results li[data-location="${name}"]`);
    await result('Munich East').waitFor();
    assert.equal(await result('Berlin Mitte').getAttribute('data-result'),
                 'success');
    assert.equal(await result('Hamburg Hafen').getAttribute('data-result'),
                 'success');
    assert.equal(await result('Munich East').getAttribute('data-result'),
                 'NO_ACTIVE_SERVER');
    assert.equal(await result('Cologne Cathedral')
        .getAttribute('data-result'), 'SCHEMA_TOO_OLD');
    assert.match(await result('Cologne Cathedral').innerText(), /schema/i);
    assert.match(await dlg.locator('.results h3').innerText(),
                 /2 deployed,\s*2 failed/);
    // The dialog stays open with the results.
    assert.ok(await dlg.isVisible());
    await screenshot(page, 'view-deploy-results', { view: true });
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
    await page.locator('tr[data-version="2.0.0"]')
        .filter({ hasText: '2 deploys' }).waitFor();
});

step('the online node\'s command advances live', async () => {
    const stream = streams[0];
    const cmd = await stream.waitForCommand(
        (c) => c.release && c.release.version === '2.0.0');
    await page.getByRole('link', { name: '2.0.0' }).click();
    await page.waitForURL(`**/dashboard/releases/${fleet.release.id}`);
    const status = page.locator(`tr[data-command="${cmd.id}"] td.status`);
    await status.waitFor();
    assert.match(await status.innerText(), /DELIVERED/);
    const hamburg = page.locator('tr[data-location="Hamburg Hafen"] td.status');
    assert.match(await hamburg.innerText(), /PENDING/);

    await report(srv, fleet.online.token, cmd.id, 'ACKNOWLEDGED');
    await status.filter({ hasText: 'ACKNOWLEDGED' })
        .waitFor({ timeout: LIVE_MS });
    await report(srv, fleet.online.token, cmd.id, 'IN_PROGRESS',
                 'pulling the image');
    await status.filter({ hasText: 'IN PROGRESS' })
        .waitFor({ timeout: LIVE_MS });
    await page.locator(`tr[data-command="${cmd.id}"]`)
        .filter({ hasText: 'pulling the image' }).waitFor();
    await report(srv, fleet.online.token, cmd.id, 'SUCCEEDED', 'running');
    await status.filter({ hasText: 'SUCCEEDED' })
        .waitFor({ timeout: LIVE_MS });
    assert.match(await page.locator(`tr[data-command="${cmd.id}"]`)
        .innerText(), /Administrator|admin@example\.com/);
    await screenshot(page, 'view-release-detail', { view: true });
});

step('a reload of a deep link keeps the session and the view', async () => {
    await page.reload();
    await page.locator('h1').filter({ hasText: '2.0.0' }).waitFor();
    await page.getByRole('heading', { name: 'Deploy history' }).waitFor();
});

step('fleet view', async () => {
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.waitForURL('**/dashboard/fleet');
    const row = (name) => page.locator(`tr[data-location="${name}"]`);
    await row('Berlin Mitte').waitFor();
    assert.match(await row('Berlin Mitte').innerText(), /Online/);
    assert.match(await row('Berlin Mitte').innerText(), /2\.0\.0/);
    assert.match(await row('Hamburg Hafen').innerText(), /Offline/);
    assert.match(await row('Hamburg Hafen').innerText(), /updating/);
    assert.match(await row('Munich East').innerText(), /No hardware/);
    const count = (v) => page.locator(
        `.version-counts li[data-version="${v}"] .count`);
    assert.equal(await count('2.0.0').innerText(), '1');
    assert.equal(await count('1.0.0').innerText(), '1');
    assert.equal(await count('0.9.0').innerText(), '1');
    await screenshot(page, 'view-fleet', { view: true });
});

step('audit view', async () => {
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL('**/dashboard/audit');
    await page.locator('tr[data-action="release.create"]').waitFor();
    // One release.deploy entry per location that got a command.
    assert.equal(await page.locator('tr[data-action="release.deploy"]')
        .count(), 2);
    await screenshot(page, 'view-audit', { view: true });
});

step('archive with a confirmation', async () => {
    await page.getByRole('link', { name: 'Releases' }).click();
    await page.getByRole('button', { name: 'Archive 2.0.0' }).click();
    await dialog().getByRole('button', { name: 'Archive release' }).click();
    await dialog().waitFor({ state: 'detached' });
    await page.locator('tr[data-version="2.0.0"]')
        .waitFor({ state: 'detached' });
    const rel = assertOk(await api(srv, 'GET',
                                   `/api/admin/releases/${fleet.release.id}`));
    assert.equal(rel.release.isArchived, true);
    await page.getByLabel('Show archived').check();
    await page.locator('tr[data-version="2.0.0"]')
        .filter({ hasText: 'Archived' }).waitFor();
});

step('tablet width stays readable', async () => {
    await page.setViewportSize({ width: 768, height: 1024 });
    // Nothing wider than the screen but the tables' own scroll boxes.
    const overflow = () => page.evaluate(
        () => document.documentElement.scrollWidth - window.innerWidth);
    await page.locator('tr[data-version="2.0.0"]').waitFor();
    assert.ok(await overflow() <= 0, 'the releases scroll sideways');
    await screenshot(page, 'view-releases-tablet', { view: true });
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.locator('tr[data-location="Berlin Mitte"]').waitFor();
    assert.ok(await overflow() <= 0, 'the fleet scrolls sideways');
    await screenshot(page, 'view-fleet-tablet', { view: true });
    await page.setViewportSize({ width: 1280, height: 800 });
});

step('sign out', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Password').waitFor();
    await page.reload();
    await page.getByLabel('Password').waitFor();
    const cookies = await browser.context.cookies(srv.url);
    assert.ok(!cookies.some((c) => c.name === 'mc_session' && c.value),
              'the session cookie survived signing out');
});

step('no script errors or policy violations', async () => {
    assert.deepEqual(browser.problems, []);
});
