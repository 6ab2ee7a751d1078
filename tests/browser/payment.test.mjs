// The customer's side of a payment link in a phone-sized Chromium: the link
// page, the sandbox gateway's card form and 3-D Secure challenge, the result
// pages and the error pages. Each page is screenshotted into
// build/screenshots/ and checked with axe-core (WCAG 2.2 AA tags).
//
//   CHATPAY_BIN=$PWD/build/chatpay tests/browser/run.sh

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { http, startServer } from './lib/server.mjs';
import { checkA11y, inspect, launch, newPage, open, submit } from './lib/browser.mjs';
import {
  CARDS,
  answer3DS,
  assertPaymentStatus,
  assertResultPage,
  cardInput,
  gatewayForm,
  openLinkPage,
  payForm,
  startPayment,
  submitCard,
  threeDSForm,
} from './lib/flow.mjs';

const TEST_TIMEOUT = 90_000;

describe('payment pages in a mobile browser', { timeout: 10 * 60_000 }, () => {
  let server;
  let chrome;

  before(
    async () => {
      server = await startServer();
      chrome = await launch();
    },
    { timeout: 60_000 },
  );

  after(
    async () => {
      let closeErr;
      try {
        await chrome?.close();
      } catch (e) {
        closeErr = e;
      }
      const exit = await server?.stop();
      if (server) {
        assert.ok(!server.killed, `chatpay did not stop within the grace period after SIGTERM:\n${server.tail()}`);
        assert.equal(exit?.code, 0, `chatpay exited with ${JSON.stringify(exit)} after SIGTERM:\n${server.tail()}`);
      }
      if (closeErr) throw closeErr;
    },
    { timeout: 40_000 },
  );

  /** fn(page) in a fresh context, closed afterwards. */
  async function withPage(opts, fn) {
    const context = await chrome.newContext(opts);
    try {
      return await fn(await newPage(context));
    } finally {
      await context.close();
    }
  }

  it('pays with a success card', { timeout: TEST_TIMEOUT }, async () => {
    const link = await server.createLink('OK');
    await withPage({}, async (page) => {
      await openLinkPage(page, link, 'success-1-link-page');
      await startPayment(page, link, 'success-2-gateway-form');
      const resp = await submitCard(page, { number: CARDS.success });
      await assertResultPage(page, link, resp, 'success-3-result');
      await assertPaymentStatus(server, link, 'SUCCESS');

      // the link now says the order is paid and offers no payment
      const again = await open(page, link.paymentLink);
      assert.equal(again.status(), 200);
      assert.equal(await payForm(page, link).count(), 0, 'a paid link offers no pay button');
      await inspect(page, 'success-4-link-page-paid');
    });
  });

  it('shows a declined card as failed and offers to try again', { timeout: TEST_TIMEOUT }, async () => {
    const link = await server.createLink('DECLINE');
    await withPage({}, async (page) => {
      await openLinkPage(page, link, 'decline-1-link-page');
      await startPayment(page, link, 'decline-2-gateway-form');
      const resp = await submitCard(page, { number: CARDS.decline });
      await assertResultPage(page, link, resp, 'decline-3-result');
      await assertPaymentStatus(server, link, 'FAILED');

      // the link page again, with a notice and the pay button
      await openLinkPage(page, link);
      const notice = page.getByRole('main').getByRole('alert');
      assert.equal(await notice.count(), 1, 'the link page explains that the last payment failed');
      assert.ok((await notice.innerText()).trim().length > 0);
      await inspect(page, 'decline-4-link-page-try-again');

      // and a second attempt with a good card goes through
      await startPayment(page, link, 'decline-5-retry-gateway-form');
      const resp2 = await submitCard(page, { number: CARDS.success });
      await assertResultPage(page, link, resp2, 'decline-6-retry-success-result');
      await assertPaymentStatus(server, link, 'SUCCESS');
    });
  });

  it('pays after an approved 3-D Secure challenge', { timeout: TEST_TIMEOUT }, async () => {
    const link = await server.createLink('3DS-OK');
    await withPage({}, async (page) => {
      await openLinkPage(page, link, '3ds-approve-1-link-page');
      await startPayment(page, link, '3ds-approve-2-gateway-form');
      const challenge = await submitCard(page, { number: CARDS.threeDS });
      assert.equal(challenge.status(), 200, 'the 3-D Secure page');
      assert.match(new URL(page.url()).pathname, /^\/sandbox-gateway\/3ds\/[^/]+$/);
      assert.equal(await threeDSForm(page).locator('button[type="submit"]').count(), 2, 'approve and deny');
      await inspect(page, '3ds-approve-3-challenge');
      const resp = await answer3DS(page, 'approve');
      await assertResultPage(page, link, resp, '3ds-approve-4-result');
      await assertPaymentStatus(server, link, 'SUCCESS');
    });
  });

  it('fails after a denied 3-D Secure challenge', { timeout: TEST_TIMEOUT }, async () => {
    const link = await server.createLink('3DS-DENY');
    await withPage({}, async (page) => {
      await openLinkPage(page, link, '3ds-deny-1-link-page');
      await startPayment(page, link, '3ds-deny-2-gateway-form');
      const challenge = await submitCard(page, { number: CARDS.threeDS });
      assert.equal(challenge.status(), 200);
      assert.match(new URL(page.url()).pathname, /^\/sandbox-gateway\/3ds\/[^/]+$/);
      await inspect(page, '3ds-deny-3-challenge');
      const resp = await answer3DS(page, 'deny');
      await assertResultPage(page, link, resp, '3ds-deny-4-result');
      await assertPaymentStatus(server, link, 'FAILED');
    });
  });

  it('shows the card form again with the error next to a bad card number', { timeout: TEST_TIMEOUT }, async () => {
    const link = await server.createLink('FORMERR');
    await withPage({}, async (page) => {
      await openLinkPage(page, link, 'form-errors-1-link-page');
      await startPayment(page, link, 'form-errors-2-gateway-form');
      const formUrl = page.url();
      const resp = await submitCard(page, { name: 'Thandi Nkosi', number: CARDS.badLuhn });
      assert.equal(resp.status(), 422, 'a form with errors answers 422');
      assert.equal(page.url(), formUrl, 'still on the card form');

      const number = cardInput(page, 'cc-number');
      assert.equal(await number.getAttribute('aria-invalid'), 'true', 'the number field is marked invalid');
      const describedBy = await number.getAttribute('aria-describedby');
      assert.ok(describedBy, 'the number field points at its error message');
      const msg = page.locator(`[id="${describedBy}"]`);
      assert.equal(await msg.count(), 1, `the error #${describedBy} exists`);
      assert.ok((await msg.innerText()).trim().length > 0, 'the error message is not empty');
      // the message sits in the number's field, just before the input
      const sameField = await number.evaluate(
        (input, id) => input.parentElement.contains(document.getElementById(id)),
        describedBy,
      );
      assert.ok(sameField, 'the error is next to the number field');
      for (const ac of ['cc-name', 'cc-exp', 'cc-csc']) {
        assert.notEqual(await cardInput(page, ac).getAttribute('aria-invalid'), 'true', `${ac} is not marked invalid`);
      }
      // a summary the screen reader announces
      assert.equal(await page.getByRole('main').getByRole('alert').count(), 1, 'an error summary (role=alert)');
      // the name is kept; the card number is never sent back
      assert.equal(await cardInput(page, 'cc-name').inputValue(), 'Thandi Nkosi');
      assert.equal(await number.inputValue(), '');
      assert.ok(!(await page.content()).includes('4111111111111112'), 'the card number is not echoed');
      await inspect(page, 'form-errors-3-bad-number');

      // every field empty: each one is marked
      for (const ac of ['cc-name', 'cc-number', 'cc-exp', 'cc-csc']) await cardInput(page, ac).fill('');
      const allEmpty = await submit(page, () => gatewayForm(page).locator('button[type="submit"]').click());
      assert.equal(allEmpty.status(), 422);
      for (const ac of ['cc-name', 'cc-number', 'cc-exp', 'cc-csc']) {
        assert.equal(await cardInput(page, ac).getAttribute('aria-invalid'), 'true', `${ac} is marked invalid`);
      }
      await inspect(page, 'form-errors-4-all-empty');

      // corrected, the payment goes through
      const ok = await submitCard(page, { number: CARDS.success });
      await assertResultPage(page, link, ok, 'form-errors-5-corrected-success-result');
      await assertPaymentStatus(server, link, 'SUCCESS');
    });
  });

  it('says when the time is up, to a screen reader too, and disables the pay button', { timeout: TEST_TIMEOUT }, async () => {
    const link = await server.createLink('CLOCK');
    await withPage({}, async (page) => {
      await page.clock.install();
      await openLinkPage(page, link);
      const expiry = page.locator('p.expiry');
      const left = Number(await expiry.getAttribute('data-expires-in'));
      assert.ok(left > 0 && left < 86400, `a countdown runs under a day: ${left} s left`);
      // the live region is in the page, empty, before its text comes
      const alert = page.locator('main [aria-live="assertive"]');
      assert.equal(await alert.count(), 1, 'one assertive live region');
      assert.equal((await alert.textContent()).trim(), '', 'nothing announced before the end');
      await page.clock.fastForward((left + 2) * 1000);
      await assert.doesNotReject(page.locator('p.expiry.over').waitFor(), 'the page says the time is up');
      const expired = (await expiry.getAttribute('data-expired-text')).trim();
      assert.ok(expired, 'the page carries the text');
      assert.equal((await alert.textContent()).trim(), expired, 'a screen reader is told');
      assert.ok(await payForm(page, link).locator('button[type="submit"]').isDisabled(), 'the pay button is off');
      await checkA11y(page, 'link-page-expired');
    });
  });

  it('pays with JavaScript disabled', { timeout: TEST_TIMEOUT }, async () => {
    const link = await server.createLink('NOJS');
    await withPage({ javaScriptEnabled: false }, async (page) => {
      await openLinkPage(page, link, 'nojs-1-link-page');
      await startPayment(page, link, 'nojs-2-gateway-form');
      const resp = await submitCard(page, { number: CARDS.success });
      await assertResultPage(page, link, resp, 'nojs-3-result');
      await assertPaymentStatus(server, link, 'SUCCESS');
    });
  });

  it('refuses a Pay button on another site', { timeout: TEST_TIMEOUT }, async () => {
    // a page of another origin (served by the browser itself) with a form
    // that posts to the link's Pay button: the browser says where it comes
    // from, and chatpay refuses it without starting a payment
    const link = await server.createLink('FORGED');
    const evil = 'http://evil.test/';
    await withPage({}, async (page) => {
      await page.route(evil, (route) =>
        route.fulfill({
          contentType: 'text/html',
          body:
            '<!doctype html><html lang="en"><head><title>Win a prize</title></head><body><main>' +
            `<form method="post" action="${server.baseUrl}/p/${link.token}/pay">` +
            '<button type="submit">Claim</button></form></main></body></html>',
        }),
      );
      await open(page, evil);
      const resp = await submit(page, () => page.getByRole('button', { name: 'Claim' }).click());
      assert.equal(resp.status(), 403, 'a cross-site post to the Pay button is refused');
      assert.equal(await page.getByRole('main').getByRole('heading', { level: 1 }).count(), 1);
      await inspect(page, 'forged-pay-403');
      await assertPaymentStatus(server, link, 'PENDING');
      // the customer's own page still pays
      await openLinkPage(page, link);
      await startPayment(page, link);
      const ok = await submitCard(page, { number: CARDS.success });
      await assertResultPage(page, link, ok);
      await assertPaymentStatus(server, link, 'SUCCESS');
    });
  });

  it('answers 410 with a page for a cancelled link', { timeout: TEST_TIMEOUT }, async () => {
    const link = await server.createLink('CANCEL');
    await server.cancel(link.paymentLinkRef);
    await withPage({}, async (page) => {
      const resp = await open(page, link.paymentLink);
      assert.equal(resp.status(), 410);
      assert.equal(await page.getByRole('main').getByRole('heading', { level: 1 }).count(), 1);
      assert.equal(await page.locator('form').count(), 0, 'no form on a cancelled link');
      assert.ok((await page.getByRole('main').innerText()).includes(link.orderNumber), 'names the order');
      await inspect(page, 'cancelled-link-410');
      // paying anyway is refused too
      const pay = await http(`${server.baseUrl}/p/${link.token}/pay`, { method: 'POST' });
      assert.equal(pay.status, 410);
    });
  });

  it('the accessibility check itself reports a known violation', { timeout: TEST_TIMEOUT }, async () => {
    // guards against an axe run that silently checks nothing
    await withPage({}, async (page) => {
      await page.setContent(
        '<!doctype html><html lang="en"><head><title>t</title></head><body><main>' +
          '<h1>Form</h1><input type="text" name="q"></main></body></html>',
      );
      await assert.rejects(checkA11y(page, 'known-bad'), (err) => {
        assert.match(err.message, /\blabel\b/, 'names the rule');
        assert.match(err.message, /input\[name="q"\]|<input/, 'names the element');
        return true;
      });
    });
  });

  it('answers 404 with a page for an unknown link', { timeout: TEST_TIMEOUT }, async () => {
    await withPage({}, async (page) => {
      const resp = await open(page, `${server.baseUrl}/p/NoSuchToken0000000`);
      assert.equal(resp.status(), 404);
      assert.equal(await page.getByRole('main').getByRole('heading', { level: 1 }).count(), 1);
      assert.equal(await page.locator('form').count(), 0);
      await inspect(page, 'unknown-link-404');
    });
  });
});
