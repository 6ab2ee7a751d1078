// chatpay's offline gateway fakes (tests/fakes/*.py) as processes of their
// own, and the chatpay CLI against a running server's database. Every wait
// is bounded; stop() ends a fake with SIGTERM (SIGKILL after a grace period).

import { execFile, spawn } from 'node:child_process';
import path from 'node:path';

import { chatpayBin, http } from './server.mjs';
import { REPO_ROOT } from './browser.mjs';

export const PYTHON = '/usr/bin/python3';
export const FAKES_DIR = path.join(REPO_ROOT, 'tests', 'fakes');

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const CLI_TIMEOUT_MS = 15_000;

const grace = (ms) => new Promise((r) => setTimeout(r, ms).unref());

class Fake {
  constructor(script, args) {
    this.script = script;
    this.args = args;
    this.stdout = '';
    this.stderr = '';
    this.exit = null;
    this.baseUrl = null;
  }

  /** Spawn it and wait for its "listening on URL" line. */
  async start() {
    this.proc = spawn(PYTHON, ['-u', path.join(FAKES_DIR, this.script), '--port', '0', ...this.args], {
      cwd: FAKES_DIR,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stderr.setEncoding('utf8').on('data', (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => resolve((this.exit = { code, signal })));
      this.proc.on('error', (err) => resolve((this.exit = { code: null, signal: null, error: String(err) })));
    });
    let timer;
    try {
      this.baseUrl = await Promise.race([
        new Promise((resolve) => {
          this.proc.stdout.on('data', (d) => {
            this.stdout += d;
            const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(this.stdout);
            if (m) resolve(m[1]);
          });
        }),
        this.exited.then((e) => {
          throw new Error(`${this.script} exited before listening (${JSON.stringify(e)}):\n${this.tail()}`);
        }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${this.script}: no "listening on" line within ${START_TIMEOUT_MS} ms:\n${this.tail()}`)),
            START_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (err) {
      await this.stop();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return this;
  }

  tail(n = 20) {
    return `${this.stdout}${this.stderr}`.trimEnd().split('\n').slice(-n).join('\n');
  }

  /** POST /_fake/NAME with a JSON body: the fake's control plane. */
  async control(name, body) {
    const r = await http(`${this.baseUrl}/_fake/${name}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await r.text();
    if (r.status !== 200) throw new Error(`${this.script}: POST /_fake/${name} answered ${r.status}: ${text}`);
    return JSON.parse(text);
  }

  /** SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; returns the exit status. */
  async stop() {
    if (this.proc && !this.exit) {
      this.proc.kill('SIGTERM');
      const done = await Promise.race([this.exited, grace(STOP_TIMEOUT_MS).then(() => null)]);
      if (!done) {
        this.proc.kill('SIGKILL');
        await Promise.race([this.exited, grace(2_000)]);
        this.killed = true;
      }
    }
    return this.exit;
  }
}

/** A running fake: startFake('stripe_fake.py', ['--secret-key', ...]). */
export function startFake(script, args = []) {
  return new Fake(script, args).start();
}

/** The CyberSource fake's fixed default credentials (its DEFAULT_* constants). */
export function cybersourceDefaults() {
  const code =
    'import json, sys; sys.path.insert(0, sys.argv[1]); import cybersource_fake as c; ' +
    'print(json.dumps({k: getattr(c, "DEFAULT_" + k.upper()) for k in ' +
    '("merchant_id", "access_key", "profile_id", "secret_key", "key_id", "shared_secret")}))';
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ['-c', code, FAKES_DIR], { timeout: CLI_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) reject(new Error(`reading cybersource_fake's defaults: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

/**
 * `chatpay ARGS... --db <the server's database> --json` with env (e.g.
 * CHATPAY_SECRETS_KEY, CHATPAY_PUBLIC_URL); returns the parsed JSON output,
 * or {} when a command prints none.
 */
export function cli(server, args, env = {}) {
  const argv = [...args, '--db', `sqlite:${path.join(server.dir, 'db')}`, '--json'];
  return new Promise((resolve, reject) => {
    execFile(
      chatpayBin(),
      argv,
      { cwd: server.dir, env: { ...process.env, ...env }, timeout: CLI_TIMEOUT_MS },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`chatpay ${argv.join(' ')} failed (${err.code ?? err.signal}):\n${stdout}\n${stderr}`));
          return;
        }
        try {
          resolve(stdout.trim() ? JSON.parse(stdout) : {});
        } catch {
          reject(new Error(`chatpay ${argv.join(' ')}: not JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}
