// A customer pays a payment link in a phone-sized Chromium through the
// offline fakes of chatpay's two real gateways, each with JavaScript on and
// off: Stripe's hosted Checkout page (tests/fakes/stripe_fake.py) and
// CyberSource Secure Acceptance (tests/fakes/cybersource_fake.py). The card
// number is typed into the fake's page only: no request the browser sends to
// chatpay carries it.
//
//   CHATPAY_BIN=$PWD/build/chatpay tests/browser/run.sh

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { startServer } from './lib/server.mjs';
import { TIMEOUT_MS, checkA11y, inspect, launch, newPage, screenshot } from './lib/browser.mjs';
import { assertPaymentStatus, assertResultPage, openLinkPage, payForm } from './lib/flow.mjs';
import { cli, cybersourceDefaults, startFake } from './lib/fakes.mjs';

const TEST_TIMEOUT = 45_000;

// Provider credentials are sealed with this key: `chatpay serve` (started by
// startServer with this process's environment) and the CLI need the same one.
// node --test runs each test file in a process of its own.
const SECRETS_KEY = randomBytes(32).toString('hex');
process.env.CHATPAY_SECRETS_KEY = SECRETS_KEY;

const STRIPE_SECRET_KEY = 'sk_test_chatpayBrowserTests';
const STRIPE_WEBHOOK_SECRET = 'whsec_chatpayBrowserTests';
const STRIPE_CARD = '4242424242424242';
const CYBERSOURCE_CARD = '4111111111111111';
const YEAR = new Date().getUTCFullYear() + 4;

/** The card number in a URL or form body, whatever separators were typed or
 *  added (spaces, "+", %20, dashes). */
const cardPattern = (digits) => new RegExp(digits.split('').join('(?:[\\s+-]|%20)*'));

/**
 * Record every request the page sends: check() asserts that none to chatpay
 * carried the card number, and (so that the check is not vacuous) that one
 * to the gateway did.
 */
function watchCardNumber(page, chatpayOrigin, gatewayOrigin, digits) {
  const re = cardPattern(digits);
  const seen = [];
  page.on('request', (req) => {
    const origin = new URL(req.url()).origin;
    const carries = re.test(req.url()) || re.test(req.postData() ?? '');
    seen.push({ origin, carries, what: `${req.method()} ${req.url()}` });
  });
  return {
    check() {
      const leaks = seen.filter((r) => r.origin === chatpayOrigin && r.carries);
      assert.deepEqual(leaks.map((r) => r.what), [], 'requests to chatpay that carried the card number');
      assert.ok(
        seen.some((r) => r.origin === gatewayOrigin && r.carries),
        `the card number went to the gateway (${gatewayOrigin}); requests seen:\n` +
          seen.map((r) => r.what).join('\n'),
      );
    },
  };
}

/**
 * action() (a click), then wait until the main frame has loaded a URL that
 * want(URL) accepts, through any redirects and self-submitting pages on the
 * way. Returns that document's response and every document response seen.
 */
async function goTo(page, action, want, what) {
  const docs = [];
  const onResponse = (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) docs.push(r);
  };
  page.on('response', onResponse);
  try {
    const arrived = page.waitForURL(want, { waitUntil: 'load', timeout: TIMEOUT_MS });
    arrived.catch(() => {}); // awaited below; not unhandled if action() throws first
    await action();
    await arrived;
  } catch (err) {
    await page.waitForTimeout(250).catch(() => {}); // a console message of the failure may come late
    err.message =
      `${what}: ${err.message}\n  now at ${page.url()}\n  documents on the way:\n` +
      docs.map((r) => `    ${r.request().method()} ${r.url()} -> ${r.status()}`).join('\n') +
      (page.consoleErrors?.length ? `\n  console errors:\n    ${page.consoleErrors.join('\n    ')}` : '');
    throw err;
  } finally {
    page.off('response', onResponse);
  }
  const resp = docs.findLast((r) => want(new URL(r.url())));
  assert.ok(resp, `${what}: no response for ${page.url()}`);
  return { resp, docs };
}

const on = (origin, re) => (u) => u.origin === origin && re.test(u.pathname);

/** Screenshots; axe on a page that a GET gives again, or on the page as it
 *  is when JavaScript is on; no console errors so far. */
async function look(page, name, { axe = true } = {}) {
  if (axe) return inspect(page, name);
  await screenshot(page, name);
  assert.deepEqual(page.consoleErrors, [], `console errors on "${name}" (${page.url()})`);
}

/** The result page of a successful payment. */
async function assertPaid(page, shop, link, resp, card, shot, { axe }) {
  await assertResultPage(page, link, resp);
  const h1 = page.getByRole('main').getByRole('heading', { level: 1 });
  assert.equal((await h1.innerText()).trim(), 'Payment successful', 'the result heading');
  assert.match(await page.title(), /Payment successful/, 'the result page title');
  assert.ok(!cardPattern(card).test(await page.content()), 'the card number is not on the result page');
  await look(page, shot, { axe });
  await assertPaymentStatus(shop, link, 'SUCCESS');
}

describe('paying through the gateway fakes in a mobile browser', { timeout: 4 * 60_000 }, () => {
  let server;
  let chrome;
  let stripe;
  let cyber;
  let stripeShop; // a client of the server with the Stripe merchant's API key
  let cyberShop;

  /** A merchant (ZAR, no channels) whose gateway is a provider of this kind. */
  async function gatewayMerchant(name, kind, settings) {
    const env = { CHATPAY_SECRETS_KEY: SECRETS_KEY, CHATPAY_PUBLIC_URL: server.baseUrl };
    const m = await cli(server, ['merchant', 'create', '--name', name, '--currencies', 'ZAR', '--channels', 'none'], env);
    assert.ok(m.merchantId && m.apiKey, `merchant create: ${JSON.stringify(m)}`);
    const sets = Object.entries(settings).flatMap(([k, v]) => ['--set', `${k}=${v}`]);
    const p = await cli(server, ['provider', 'add', '--merchant', m.merchantId, '--kind', kind, ...sets], env);
    assert.ok(p.providerId, `provider add: ${JSON.stringify(p)}`);
    const u = await cli(server, ['merchant', 'update', m.merchantId, '--gateway', p.providerId], env);
    assert.equal(u.gateway, p.providerId, `merchant update --gateway: ${JSON.stringify(u)}`);
    // the server's own API client, with this merchant's key
    const client = Object.create(server, { apiKey: { value: m.apiKey } });
    return { client, inboundUrls: p.inboundUrls ?? {} };
  }

  before(
    async () => {
      server = await startServer();
      chrome = await launch();
      [stripe, cyber] = await Promise.all([
        startFake('stripe_fake.py', ['--secret-key', STRIPE_SECRET_KEY, '--webhook-secret', STRIPE_WEBHOOK_SECRET]),
        startFake('cybersource_fake.py'),
      ]);

      const s = await gatewayMerchant('Stripe Shop', 'stripe', {
        secret_key: STRIPE_SECRET_KEY,
        webhook_secret: STRIPE_WEBHOOK_SECRET,
        base_url: stripe.baseUrl,
      });
      stripeShop = s.client;
      assert.ok(s.inboundUrls.webhook?.startsWith(`${server.baseUrl}/`), `Stripe webhook URL: ${JSON.stringify(s.inboundUrls)}`);
      await stripe.control('webhooks', { webhook_url: s.inboundUrls.webhook });

      const cs = await cybersourceDefaults();
      const c = await gatewayMerchant('CyberSource Shop', 'cybersource', {
        ...cs,
        sa_base_url: cyber.baseUrl,
        rest_base_url: cyber.baseUrl,
      });
      cyberShop = c.client;
      assert.ok(
        c.inboundUrls.merchantPost?.startsWith(`${server.baseUrl}/`),
        `CyberSource merchant POST URL: ${JSON.stringify(c.inboundUrls)}`,
      );
      await cyber.control('config', { merchant_post_url: c.inboundUrls.merchantPost });
    },
    { timeout: 60_000 },
  );

  after(
    async () => {
      const errors = [];
      try {
        await chrome?.close();
      } catch (e) {
        errors.push(e);
      }
      for (const fake of [stripe, cyber]) {
        if (!fake) continue;
        const exit = await fake.stop();
        if (fake.killed) errors.push(new Error(`${fake.script} did not stop after SIGTERM:\n${fake.tail()}`));
        else if (exit?.code !== 0) errors.push(new Error(`${fake.script} exited with ${JSON.stringify(exit)}:\n${fake.tail()}`));
      }
      const exit = await server?.stop();
      if (server) {
        assert.ok(!server.killed, `chatpay did not stop within the grace period after SIGTERM:\n${server.tail()}`);
        assert.equal(exit?.code, 0, `chatpay exited with ${JSON.stringify(exit)} after SIGTERM:\n${server.tail()}`);
      }
      if (errors.length) throw errors[0];
    },
    { timeout: 60_000 },
  );

  /** fn(page) in a fresh context, closed afterwards; chatpay's log tail on failure. */
  async function withPage(opts, fn) {
    const context = await chrome.newContext(opts);
    try {
      return await fn(await newPage(context));
    } catch (err) {
      err.message += `\n--- chatpay log (tail) ---\n${server.tail(15)}`;
      throw err;
    } finally {
      await context.close();
    }
  }

  for (const js of [true, false]) {
    const mode = js ? 'js' : 'nojs';

    it(`Stripe: pays on the hosted Checkout page, JavaScript ${js ? 'on' : 'off'}`, { timeout: TEST_TIMEOUT }, async () => {
      const link = await stripeShop.createLink(`STRIPE-${mode.toUpperCase()}`);
      const shot = `gateway-stripe-${mode}`;
      await withPage({ javaScriptEnabled: js }, async (page) => {
        const card = watchCardNumber(page, server.baseUrl, stripe.baseUrl, STRIPE_CARD);
        await openLinkPage(page, link, `${shot}-1-link-page`);

        // Pay: chatpay creates a Checkout Session and sends the browser to it
        const checkout = await goTo(
          page,
          () => payForm(page, link).locator('button[type="submit"]').click(),
          on(stripe.baseUrl, /^\/c\/pay\/cs_\w+$/),
          'from the Pay button to the Checkout page',
        );
        assert.equal(checkout.resp.status(), 200, 'the Checkout page');
        const form = page.locator('form[method="post" i][action^="/c/pay/"]');
        await form.waitFor({ state: 'visible' });
        await look(page, `${shot}-2-checkout`, { axe: false });

        await form.locator('input[name="cardnumber"]').fill(STRIPE_CARD);
        await form.locator('input[name="exp"]').fill(`12/${String(YEAR % 100).padStart(2, '0')}`);
        await form.locator('input[name="cvc"]').fill('123');
        const done = await goTo(
          page,
          () => form.getByRole('button', { name: 'Pay' }).click(),
          on(server.baseUrl, new RegExp(`^/p/${link.token}/return$`)),
          'from the Checkout page back to chatpay',
        );
        const paid = done.docs.find((r) => r.url().startsWith(`${stripe.baseUrl}/c/pay/`));
        assert.equal(paid?.status(), 303, 'the Checkout page answers the payment with a redirect to chatpay');
        // a GET page: axe checks it with JavaScript off too
        await assertPaid(page, stripeShop, link, done.resp, STRIPE_CARD, `${shot}-3-result`, { axe: true });
        card.check();
      });
    });

    it(`CyberSource: pays through Secure Acceptance, JavaScript ${js ? 'on' : 'off'}`, { timeout: TEST_TIMEOUT }, async () => {
      const link = await cyberShop.createLink(`CYBS-${mode.toUpperCase()}`);
      const shot = `gateway-cybersource-${mode}`;
      await withPage({ javaScriptEnabled: js }, async (page) => {
        const card = watchCardNumber(page, server.baseUrl, cyber.baseUrl, CYBERSOURCE_CARD);
        await openLinkPage(page, link, `${shot}-1-link-page`);
        const payButton = () => payForm(page, link).locator('button[type="submit"]').click();
        const onCardForm = on(cyber.baseUrl, /^\/pay$/);

        // Pay: chatpay answers a page of signed fields that POSTs them to
        // Secure Acceptance; it submits itself, or the customer presses Continue
        let cardForm;
        let via; // chatpay's answer to the Pay button
        if (js) {
          cardForm = await goTo(page, payButton, onCardForm, 'from the Pay button to the card form');
        } else {
          const hop = await goTo(
            page,
            payButton,
            on(server.baseUrl, new RegExp(`^/p/${link.token}/pay$`)),
            'from the Pay button to the page that continues to the gateway',
          );
          via = hop.resp;
          const go = page.locator(`form[method="post" i][data-autosubmit][action="${cyber.baseUrl}/pay"]`);
          assert.equal(await go.count(), 1, 'one form to the gateway');
          assert.equal(await go.locator('input[type="hidden"][name="signature"]').count(), 1, 'a signed form');
          const button = go.getByRole('button', { name: 'Continue' });
          await button.waitFor({ state: 'visible' });
          // a POST answer: axe cannot run without JavaScript, nor GET it again
          await look(page, `${shot}-2-continue`, { axe: false });
          cardForm = await goTo(page, () => button.click(), onCardForm, 'Continue to the card form');
        }
        via ??= cardForm.docs.find((r) => r.url() === `${server.baseUrl}/p/${link.token}/pay`);
        assert.equal(via?.status(), 200, `POST /p/${link.token}/pay answers the page to the gateway`);
        assert.equal(cardForm.resp.status(), 200, 'the card form');
        const form = page.locator('form[method="post" i][action="/pay/complete"]');
        await form.waitFor({ state: 'visible' });
        await look(page, `${shot}-3-card-form`, { axe: false });

        await form.locator('input[name="card_number"]').fill(CYBERSOURCE_CARD);
        await form.locator('input[name="card_expiry_date"]').fill(`12-${YEAR}`);
        await form.locator('input[name="card_cvn"]').fill('123');
        const payCard = () => form.getByRole('button', { name: 'Pay' }).click();
        const onResult = on(server.baseUrl, new RegExp(`^/p/${link.token}/return$`));
        let done;
        if (js) {
          done = await goTo(page, payCard, onResult, 'from the card form back to chatpay');
        } else {
          const receipt = await goTo(page, payCard, on(cyber.baseUrl, /^\/pay\/complete$/), 'the card form');
          assert.equal(receipt.resp.status(), 200);
          const back = page.locator('form#receipt').getByRole('button', { name: 'Continue' });
          await back.waitFor({ state: 'visible' });
          await look(page, `${shot}-4-receipt`, { axe: false });
          done = await goTo(page, () => back.click(), onResult, 'Continue back to chatpay');
        }
        const back = done.docs.find((r) => r.request().method() === 'POST' && onResult(new URL(r.url())));
        assert.ok(back, 'the browser POSTs the signed result to chatpay');
        // a POST answer: axe runs on it only when JavaScript is on
        await assertPaid(page, cyberShop, link, done.resp, CYBERSOURCE_CARD, `${shot}-5-result`, { axe: js });
        card.check();
      });
    });
  }
});
