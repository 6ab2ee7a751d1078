// Debian's Chromium driven by playwright-core, on a phone-sized viewport;
// axe-core checks and screenshots of every page visited.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = require('axe-core').source;

export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SCREENSHOTS = path.join(REPO_ROOT, 'build', 'screenshots');

export const TIMEOUT_MS = 15_000; // any single browser step
const LAUNCH_TIMEOUT_MS = 30_000;

const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

// Chromium may not reach anything but the loopback server: no background
// traffic, no component updates, no QUIC probing.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox', // root in a container
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/**
 * A fresh Chromium. playwright-core's launch() gives it a new, empty user
 * data dir of its own (a temp dir, removed on close); each test then opens
 * its own context.
 */
export async function launch() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)`);
  }
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: LAUNCH_TIMEOUT_MS,
  });
  return {
    browser,
    /** A phone-sized context. opts.javaScriptEnabled (default true). */
    async newContext(opts = {}) {
      const context = await browser.newContext({
        viewport: { width: 390, height: 844 },
        screen: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
        deviceScaleFactor: 2,
        locale: 'en-GB',
        colorScheme: 'light',
        javaScriptEnabled: opts.javaScriptEnabled ?? true,
        serviceWorkers: 'block',
      });
      context.chatpayJs = opts.javaScriptEnabled ?? true;
      context.chatpayLauncher = this;
      context.setDefaultTimeout(TIMEOUT_MS);
      context.setDefaultNavigationTimeout(TIMEOUT_MS);
      // loopback only: anything else is refused before it leaves the browser
      await context.route(
        (url) => !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname),
        (route) => route.abort('blockedbyclient'),
      );
      return context;
    },
    async close() {
      await bounded(browser.close(), 15_000, 'closing Chromium');
    },
  };
}

/** A new page that records console errors: a page of the payment flow must
 *  log none (a CSP violation, e.g. an inline style, would show here). */
export async function newPage(context) {
  const page = await context.newPage();
  page.consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs an error status of the document itself (404, 410, 422:
    // asserted by the tests) and of the favicon the server does not have
    const url = m.location()?.url ?? '';
    const isDocOrIcon = url === page.url() || /^https?:\/\/[^/]+\/favicon\.ico$/.test(url);
    if (/^Failed to load resource/.test(m.text()) && isDocOrIcon) return;
    page.consoleErrors.push(`${m.text()} (${url})`);
  });
  page.on('pageerror', (e) => page.consoleErrors.push(String(e)));
  return page;
}

/** Navigate with page.goto; returns the main document's response. */
export async function open(page, url) {
  const resp = await page.goto(url, { waitUntil: 'load', timeout: TIMEOUT_MS });
  assert.ok(resp, `no response for ${url}`);
  return resp;
}

/**
 * Run action (a click that submits a form) and wait for the resulting page:
 * the first main-frame document response that is not a redirect, and its load.
 */
export async function submit(page, action) {
  const respP = page.waitForResponse(
    (r) =>
      r.request().isNavigationRequest() &&
      r.request().frame() === page.mainFrame() &&
      (r.status() < 300 || r.status() >= 400),
    { timeout: TIMEOUT_MS },
  );
  respP.catch(() => {}); // awaited below; not unhandled if action() throws first
  await action();
  const resp = await respP;
  await page.waitForURL(resp.url(), { waitUntil: 'load', timeout: TIMEOUT_MS });
  return resp;
}

// ---- accessibility ----------------------------------------------------------------

function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .slice(0, 10)
        .map((n) => {
          const why = (n.failureSummary || '').replace(/\s+/g, ' ').trim();
          return `    - ${n.target.join(' ')}\n      html: ${n.html.slice(0, 300)}\n      ${why}`;
        })
        .join('\n');
      return `  [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${nodes}`;
    })
    .join('\n');
}

/** p, or a rejection after ms: page.evaluate has no timeout of its own. */
export function bounded(p, ms, what) {
  let timer;
  return Promise.race([
    p,
    new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function runAxe(page) {
  const results = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    const has = await bounded(page.evaluate(() => typeof window.axe === 'object'), TIMEOUT_MS, 'axe check');
    if (!has) await bounded(page.evaluate(axeSource), TIMEOUT_MS, 'axe-core injection');
    const r = await bounded(
      page.evaluate(
        (tags) =>
          window.axe.run(document, {
            runOnly: { type: 'tag', values: tags },
            resultTypes: ['violations'],
          }),
        AXE_TAGS,
      ),
      30_000,
      'axe.run',
    );
    assert.ok(r.passes.length + r.incomplete.length + r.violations.length > 0, 'axe-core checked no rule at all');
    results.push({ scheme, violations: r.violations });
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return results;
}

/**
 * axe-core on the page as it is now, in the light and in the dark colour
 * scheme (the stylesheet has both); asserts zero violations.
 *
 * The pages' CSP has no script-src, but page.evaluate runs through the
 * DevTools protocol, which the CSP does not govern. Without JavaScript axe
 * cannot run (its timers never fire): a page of a context with JavaScript
 * disabled is checked by loading the same URL (a GET) in a fresh context
 * with JavaScript.
 */
export async function checkA11y(page, name) {
  let target = page;
  let checker;
  if (page.context().chatpayJs === false) {
    checker = await page.context().chatpayLauncher.newContext();
    target = await checker.newPage();
    const resp = await target.goto(page.url(), { waitUntil: 'load', timeout: TIMEOUT_MS });
    assert.ok(resp, `no response for ${page.url()}`);
  }
  let results;
  try {
    results = await runAxe(target);
  } finally {
    await checker?.close();
  }
  const bad = results.filter((r) => r.violations.length > 0);
  if (bad.length > 0) {
    assert.fail(
      `axe-core: accessibility violations on "${name}" (${page.url()}):\n` +
        bad.map((r) => `  ${r.scheme} colour scheme:\n${formatViolations(r.violations)}`).join('\n'),
    );
  }
}

// ---- screenshots -------------------------------------------------------------------

/** build/screenshots/NAME.png (light) and NAME-dark.png (dark colour scheme). */
export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const files = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    const file = path.join(SCREENSHOTS, `${name}${scheme === 'dark' ? '-dark' : ''}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: TIMEOUT_MS, animations: 'disabled' });
    files.push(file);
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return files;
}

/** Screenshots and accessibility check of the current page; no console errors. */
export async function inspect(page, name) {
  await screenshot(page, name);
  await checkA11y(page, name);
  assert.deepEqual(page.consoleErrors, [], `console errors on "${name}" (${page.url()})`);
}
