// The dashboard in a real browser (Debian's Chromium through playwright-core) against a real local
// cluster: three members alive, Fail on node 1 shows it dead and stopped, Recover brings it back alive,
// and a key written through the form lists its replicas. Leaves a screenshot in /tmp/dashboard.png.
// Skipped, saying why, when /usr/bin/chromium or playwright-core is missing.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { DashboardState } from '../../src/dashboard/state.js';
import { http, startDashboardCluster, type DashboardCluster } from './helpers.js';

const chromiumPath = '/usr/bin/chromium';
const screenshotPath = process.env.QUORUMKV_DASHBOARD_SCREENSHOT ?? '/tmp/dashboard.png';
const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

type Playwright = typeof import('playwright-core');

async function loadPlaywright(): Promise<Playwright | string> {
  if (!existsSync(chromiumPath)) return `${chromiumPath} is missing (apt-get install -y chromium)`;
  try {
    return (await import('playwright-core')) as Playwright;
  } catch (error) {
    return `playwright-core cannot be loaded (${(error as Error).message})`;
  }
}

describe('dashboard in a browser', () => {
  it('shows members, fails and recovers node 1, writes a key and lists its replicas', { timeout: 300_000 }, async (t) => {
    const playwright = await loadPlaywright();
    if (typeof playwright === 'string') {
      t.skip(`browser test skipped: ${playwright}`);
      return;
    }
    let cluster: DashboardCluster | undefined;
    const browser = await playwright.chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true, timeout: 60_000 });
    try {
      cluster = await startDashboardCluster();
      const front = cluster.frontUrl;
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      page.setDefaultTimeout(30_000);
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') pageErrors.push(message.text());
      });

      await page.goto(`${front}/`);
      assert.equal(new URL(page.url()).pathname, '/dashboard/', 'the front redirects / to the dashboard');
      assert.equal(await page.title(), 'quorumkv dashboard');

      const row = (id: string) => page.locator(`#members tbody tr[data-node="${id}"]`);
      await page.locator('#members tbody tr').nth(2).waitFor();
      assert.equal(await page.locator('#members tbody tr').count(), 3);
      // All three alive (failure detection settles within seconds of the start).
      await page.waitForFunction(
        () => {
          const rows = [...document.querySelectorAll('#members tbody tr')] as HTMLElement[];
          return rows.length === 3 && rows.every((r) => r.dataset.state === 'alive' && r.dataset.process === 'running');
        },
        undefined,
        { timeout: 60_000 },
      );
      for (const id of ['0', '1', '2']) {
        assert.equal((await row(id).locator('td.state .badge').textContent())?.trim(), 'alive');
      }
      await page.locator('#ring path.arc').first().waitFor();
      assert.ok((await page.locator('#ring path.arc').count()) >= 3, 'the ring is drawn');
      assert.equal(await page.locator('#ring-legend li').count(), 3);

      // Fail node 1.
      await page.getByRole('button', { name: 'Fail node 1' }).click();
      await page.waitForFunction(
        () => {
          const r = document.querySelector('#members tbody tr[data-node="1"]') as HTMLElement | null;
          return r?.dataset.state === 'dead' && r.dataset.process === 'stopped';
        },
        undefined,
        { timeout: 30_000 },
      );
      assert.equal((await row('1').locator('td.state .badge').textContent())?.trim(), 'dead');
      assert.equal((await row('1').locator('td.process .proc').textContent())?.trim(), 'stopped');
      assert.equal(await page.getByRole('button', { name: 'Recover node 1' }).isEnabled(), true);
      assert.equal(await page.getByRole('button', { name: 'Fail node 1' }).isEnabled(), false);
      assert.equal(await page.locator('#recover-all').isEnabled(), true);

      // Recover node 1.
      await page.getByRole('button', { name: 'Recover node 1' }).click();
      await page.waitForFunction(
        () => {
          const r = document.querySelector('#members tbody tr[data-node="1"]') as HTMLElement | null;
          return r?.dataset.state === 'alive' && r.dataset.process === 'running';
        },
        undefined,
        { timeout: 60_000 },
      );

      // Write a key through the form: its replicas (RF 2) are listed.
      await page.getByRole('textbox', { name: 'Key', exact: true }).fill('dashboard-key');
      await page.getByRole('textbox', { name: 'Value', exact: true }).fill('hello from the dashboard');
      await page.getByRole('button', { name: 'Write' }).click();
      const replicas = page.locator('#kv-result ul.replicas li');
      await replicas.nth(1).waitFor();
      assert.equal(await replicas.count(), 2, 'two replicas at RF 2');
      const listed = await replicas.evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.node));
      const expected = (await http('GET', `${front}/v1/keys/dashboard-key/replicas`)).json() as { replicas: string[] };
      assert.deepEqual(listed, expected.replicas, 'the replicas the cluster reports');
      const read = await http('GET', `${front}/v1/kv/dashboard-key`);
      assert.equal(read.status, 200);
      assert.equal(read.text, 'hello from the dashboard');

      // Read it back through the form too.
      await page.getByRole('textbox', { name: 'Value', exact: true }).fill('');
      await page.getByRole('button', { name: 'Read' }).click();
      await page.locator('#kv-result dd', { hasText: 'hello from the dashboard' }).waitFor();

      // A write with an expiry: the form's TTL reaches the store, and a read shows when it expires.
      await page.getByRole('textbox', { name: 'Key', exact: true }).fill('dashboard-session');
      await page.getByRole('textbox', { name: 'Value', exact: true }).fill('expiring');
      await page.getByRole('spinbutton', { name: 'Expires after (s)' }).fill('600');
      await page.getByRole('button', { name: 'Write' }).click();
      await page.locator('#kv-result dt', { hasText: 'Expires' }).waitFor();
      // A quorum read needs both replicas (RF 2): while node 1, just recovered, is still suspected by
      // some coordinator, it is refused with 503. That is not what this step checks, so ask again.
      let expiring = await http('GET', `${front}/v1/kv/dashboard-session`);
      for (let i = 0; i < 50 && expiring.status === 503; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        expiring = await http('GET', `${front}/v1/kv/dashboard-session`);
      }
      assert.equal(expiring.status, 200, expiring.text);
      const expiresAt = Number(expiring.headers.get('x-quorumkv-expires-at'));
      assert.ok(expiresAt > Date.now() + 500_000 && expiresAt <= Date.now() + 600_000, `expires at ${expiresAt}`);
      await page.getByRole('spinbutton', { name: 'Expires after (s)' }).fill('');

      // Let traffic and the sparklines fill in a little, then keep a picture. Conditional writes show in
      // their own column (update/s).
      for (let i = 0; i < 30; i++) await http('PUT', `${front}/v1/kv/traffic-${i}`, { body: `t${i}` });
      for (let i = 0; i < 20; i++) await http('PUT', `${front}/v1/kv/traffic-cas-${i}`, { body: 'c', headers: { 'if-none-match': '*' } });
      await page.waitForFunction(
        () => [...document.querySelectorAll('#traffic tbody tr')].some((row) => Number(row.querySelectorAll('td')[3]?.textContent) > 0),
        undefined,
        { timeout: 20_000 },
      );
      await page.waitForFunction(
        () => {
          const text = document.getElementById('sum-keys')?.textContent ?? '';
          // "≈ 31": the keys (copies over replicas per key), with the 30 just written among them.
          return Number(text.replace(/[^0-9]/g, '')) >= 30;
        },
        undefined,
        { timeout: 20_000 },
      );
      await page.waitForTimeout(1500);
      await page.screenshot({ path: screenshotPath, fullPage: true });
      t.diagnostic(`screenshot: ${screenshotPath}`);

      const state = (await http('GET', `${front}/v1/dashboard/state`)).json() as DashboardState;
      assert.ok(state.nodes.every((n) => n.state === 'alive'));
      assert.deepEqual(pageErrors, [], 'no script error on the page');
    } finally {
      await browser.close().catch(() => undefined);
      await cluster?.stop();
    }
  });
});
