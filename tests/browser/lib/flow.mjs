// Steps of the customer's payment, located by structure (form actions, input
// autocomplete tokens, submit buttons, landmarks) rather than by wording, so
// that text changes and translations do not break them.

import assert from 'node:assert/strict';
import { inspect, open, submit } from './browser.mjs';

export const CARDS = {
  success: '4111 1111 1111 1111',
  decline: '4000 0000 0000 0002',
  threeDS: '4000 0027 6000 3184',
  badLuhn: '4111 1111 1111 1112',
};

export const payForm = (page, link) => page.locator(`form[method="post" i][action="/p/${link.token}/pay"]`);
export const gatewayForm = (page) => page.locator('form[method="post" i][action^="/sandbox-gateway/checkout/"]');
export const threeDSForm = (page) => page.locator('form[method="post" i][action^="/sandbox-gateway/3ds/"]');
export const cardInput = (page, autocomplete) => gatewayForm(page).locator(`input[autocomplete="${autocomplete}"]`);

/** Open the payment link: 200, the order and its amount on the page, one
 *  pay button. Screenshot + axe as `${shot}`. */
export async function openLinkPage(page, link, shot) {
  const resp = await open(page, link.paymentLink);
  assert.equal(resp.status(), 200, `GET ${link.paymentLink}`);
  const main = page.getByRole('main');
  await main.waitFor({ state: 'visible' });
  const text = await main.innerText();
  assert.ok(text.includes(link.orderNumber), `the order number ${link.orderNumber} is not on the page:\n${text}`);
  assert.match(text, /115[.,]00/, 'the total is not on the page');
  // the line item: one row whose header cell names it
  const rows = main.locator('table tbody tr');
  assert.equal(await rows.count(), 1, 'one line item row');
  assert.equal((await rows.first().locator('th').innerText()).trim(), 'Widget');
  assert.equal(await page.getByRole('heading', { level: 1 }).count(), 1, 'one h1');
  await assert.doesNotReject(payForm(page, link).waitFor({ state: 'visible' }), 'the pay form is shown');
  assert.equal(await payForm(page, link).locator('button[type="submit"]').count(), 1, 'one pay button');
  if (shot) await inspect(page, shot);
}

/** Click the pay button: lands on the sandbox gateway's card form (200). */
export async function startPayment(page, link, shot) {
  const resp = await submit(page, () => payForm(page, link).locator('button[type="submit"]').click());
  assert.equal(resp.status(), 200, `the gateway form after paying (${resp.url()})`);
  assert.match(new URL(page.url()).pathname, /^\/sandbox-gateway\/checkout\/[^/]+$/, 'on the gateway form');
  await gatewayForm(page).waitFor({ state: 'visible' });
  for (const ac of ['cc-name', 'cc-number', 'cc-exp', 'cc-csc']) {
    assert.equal(await cardInput(page, ac).count(), 1, `one input autocomplete=${ac}`);
    // every field has a visible label
    const id = await cardInput(page, ac).getAttribute('id');
    assert.equal(await page.locator(`label[for="${id}"]`).count(), 1, `a label for #${id}`);
  }
  if (shot) await inspect(page, shot);
  return resp;
}

/** Fill the card form and submit it; returns the resulting page's response. */
export async function submitCard(page, { name = 'Thandi Nkosi', number, expiry = '12/30', cvc = '123' }) {
  await cardInput(page, 'cc-name').fill(name);
  await cardInput(page, 'cc-number').fill(number);
  await cardInput(page, 'cc-exp').fill(expiry);
  await cardInput(page, 'cc-csc').fill(cvc);
  return submit(page, () => gatewayForm(page).locator('button[type="submit"]').click());
}

/** On the return page of this link: 200 and a heading. */
export async function assertResultPage(page, link, resp, shot) {
  const url = new URL(page.url());
  assert.equal(url.pathname, `/p/${link.token}/return`, `on the return page (${page.url()})`);
  assert.ok(url.searchParams.get('ref'), 'the return URL names the payment');
  assert.equal(resp.status(), 200, `the result page's status (${page.url()})`);
  const h1 = page.getByRole('main').getByRole('heading', { level: 1 });
  assert.equal(await h1.count(), 1, 'the result page has one h1 in main');
  assert.ok((await h1.innerText()).trim().length > 0, 'the result heading is not empty');
  // a result page offers no pay button
  assert.equal(await page.locator('form[action$="/pay"]').count(), 0, 'no pay form on the result page');
  if (shot) await inspect(page, shot);
}

/** The 3-D Secure challenge: approve or deny. */
export async function answer3DS(page, action) {
  const button = threeDSForm(page).locator(`button[type="submit"][name="action"][value="${action}"]`);
  assert.equal(await button.count(), 1, `one ${action} button`);
  return submit(page, () => button.click());
}

export async function assertPaymentStatus(server, link, want) {
  const st = await server.status(link.paymentLinkRef);
  assert.equal(st.paymentStatus, want, `paymentStatus of ${link.paymentLinkRef}: ${JSON.stringify(st)}`);
  return st;
}

