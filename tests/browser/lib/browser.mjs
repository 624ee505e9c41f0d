// Starts Debian's chromium (apt package "chromium") through playwright-core
// with a fresh profile, and keeps screenshots of failed steps.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const CHROMIUM = process.env.MC_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)), '..', 'screenshots');

// This machine's network is closed: without the background-networking
// flags chromium keeps trying to reach Google's services and misbehaves.
const ARGS = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync',
];

// Resolves to {context, page, close()}. The profile is a temp dir removed
// on close.
export async function startBrowser(viewport = { width: 1280, height: 800 }) {
    if (!fs.existsSync(CHROMIUM)) {
        throw new Error(`${CHROMIUM} does not exist: apt-get install chromium`);
    }
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-chromium-'));
    let context;
    try {
        context = await chromium.launchPersistentContext(profile, {
            executablePath: CHROMIUM, headless: true, args: ARGS, viewport,
        });
    } catch (err) {
        fs.rmSync(profile, { recursive: true, force: true });
        throw err;
    }
    const page = context.pages()[0] || await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
        // CSP violations and script errors are reported on the console.
        if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) {
            problems.push(`console: ${m.text()}`);
        }
    });
    return {
        context, page, problems,
        async close() {
            await context.close().catch(() => {});
            fs.rmSync(profile, { recursive: true, force: true });
        },
    };
}

// Saves a screenshot of page as <dir>/<name>.png; never throws (it runs
// while a failure is being reported). opts.view marks a picture of a view
// for a person to look at, kept only when MC_SCREENSHOTS=1.
export async function screenshot(page, name, opts = {}) {
    const dir = opts.dir || SCREENSHOT_DIR;
    if (opts.view && !process.env.MC_SCREENSHOTS) {
        return null;
    }
    try {
        fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, name.replace(/[^A-Za-z0-9_.-]+/g, '-') +
                               '.png');
        await page.screenshot({ path: file, fullPage: true });
        return file;
    } catch {
        return null;
    }
}
