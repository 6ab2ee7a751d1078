// One `chatpay serve --dev` for a test file: a free loopback port, a fresh
// SQLite database in a temp dir, the sandbox API key it prints, and a small
// API client. Every wait is bounded; stop() ends the process (SIGTERM, then
// SIGKILL after a grace period) and removes the temp dir.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const HTTP_TIMEOUT_MS = 10_000;

export function chatpayBin() {
  const bin = process.env.CHATPAY_BIN;
  if (!bin || !path.isAbsolute(bin)) {
    throw new Error(
      'CHATPAY_BIN must be the absolute path of the chatpay binary ' +
        `(e.g. CHATPAY_BIN=$PWD/build/chatpay); got ${JSON.stringify(bin ?? null)}`,
    );
  }
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`CHATPAY_BIN=${bin} is not an executable file (run make first)`);
  }
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// a timer that does not keep the test process alive once everything else is done
const grace = (ms) => new Promise((r) => setTimeout(r, ms).unref());

/** fetch with a deadline; never follows redirects. */
export async function http(url, init = {}) {
  return fetch(url, {
    redirect: 'manual',
    ...init,
    signal: AbortSignal.timeout(init.timeout ?? HTTP_TIMEOUT_MS),
  });
}

class Server {
  constructor(bin, dir, port) {
    this.bin = bin;
    this.dir = dir;
    this.port = port;
    this.baseUrl = `http://127.0.0.1:${port}`;
    this.stdout = '';
    this.stderr = '';
    this.exit = null; // {code, signal} once exited
    this.apiKey = null;
  }

  start() {
    // links must point at this server: no public URL from the environment
    const env = { ...process.env };
    delete env.CHATPAY_PUBLIC_URL;
    this.proc = spawn(
      this.bin,
      ['serve', '--dev', '--db', `sqlite:${path.join(this.dir, 'db')}`, '--listen', `127.0.0.1:${this.port}`],
      { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    this.proc.stdout.setEncoding('utf8').on('data', (d) => (this.stdout += d));
    this.proc.stderr.setEncoding('utf8').on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.proc.on('error', (err) => {
        this.exit = { code: null, signal: null, error: err };
        resolve(this.exit);
      });
    });
    return this;
  }

  tail(n = 30) {
    const lines = (this.stderr || '').trimEnd().split('\n');
    return lines.slice(-n).join('\n');
  }

  /** Wait for the API key line and for /livez to answer 200. */
  async waitReady() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exit) {
        throw new Error(`chatpay serve exited early (${JSON.stringify(this.exit)}):\n${this.tail()}`);
      }
      const m = /API key:\s+(\S+)/.exec(this.stdout);
      if (m) {
        this.apiKey = m[1];
        try {
          const r = await http(`${this.baseUrl}/livez`, { timeout: 2_000 });
          if (r.status === 200) return this;
        } catch {
          /* not listening yet */
        }
      }
      await sleep(50);
    }
    throw new Error(`chatpay serve not ready within ${START_TIMEOUT_MS} ms:\n${this.stdout}\n${this.tail()}`);
  }

  /** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; returns the exit status. */
  async stop() {
    if (!this.exit && this.proc) {
      this.proc.kill('SIGTERM');
      const t = await Promise.race([this.exited, grace(STOP_TIMEOUT_MS).then(() => null)]);
      if (!t) {
        this.proc.kill('SIGKILL');
        await Promise.race([this.exited, grace(5_000)]);
        this.killed = true;
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
    return this.exit;
  }

  // ---- the API ---------------------------------------------------------------

  async api(method, apiPath, body) {
    const headers = { Authorization: this.apiKey };
    const init = { method, headers };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await http(this.baseUrl + apiPath, init);
    const text = await r.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: r.status, json, text };
  }

  /** A new payment link (ZAR 115.00, two widgets); returns the API's answer
   *  plus token and orderNumber. */
  async createLink(prefix = 'BR') {
    const orderNumber = `${prefix}-${randomUUID().slice(0, 12)}`;
    const r = await this.api('POST', '/api/v2/chat-2-pay', {
      channel: 'none',
      to: '+27821234567',
      orderNumber,
      timestamp: '2026-11-22T10:00:00Z',
      currency: 'ZAR',
      totalAmount: 115.0,
      subTotalAmount: 100.0,
      taxAmount: 15.0,
      returnPaymentLink: true,
      orderLineItems: [{ name: 'Widget', unitPrice: 50.0, quantity: 2 }],
    });
    if (![200, 201].includes(r.status) || !r.json?.paymentLink || !r.json?.paymentLinkRef) {
      throw new Error(`POST /api/v2/chat-2-pay answered ${r.status}: ${r.text}`);
    }
    const url = new URL(r.json.paymentLink);
    if (url.origin !== this.baseUrl || !/^\/p\/[^/]+$/.test(url.pathname)) {
      throw new Error(`unexpected paymentLink ${r.json.paymentLink} (server ${this.baseUrl})`);
    }
    return { ...r.json, orderNumber, token: url.pathname.slice(3) };
  }

  async status(ref) {
    const r = await this.api('GET', `/api/v2/chat-2-pay/transaction-status?paymentLinkRef=${encodeURIComponent(ref)}`);
    if (r.status !== 200) throw new Error(`transaction-status answered ${r.status}: ${r.text}`);
    return r.json;
  }

  async cancel(ref) {
    const r = await this.api('POST', `/api/v2/cancel/${encodeURIComponent(ref)}`);
    if (r.status !== 200) throw new Error(`cancel answered ${r.status}: ${r.text}`);
    return r.json;
  }
}

/** Start a server (a port taken between choosing and binding is retried). */
export async function startServer() {
  const bin = chatpayBin();
  let last;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatpay-browser-'));
    const srv = new Server(bin, dir, await freePort()).start();
    try {
      return await srv.waitReady();
    } catch (err) {
      last = err;
      await srv.stop();
      if (!/listen/i.test(srv.stderr)) break;
    }
  }
  throw last;
}
