#!/usr/bin/env node
// Live servers for the postgres, redis and mongodb adapter tests.
//
//   import { startServices } from './services.mjs';
//   const { env, stop } = await startServices();   // env: HEKTOR_TEST_{PG,REDIS,MONGO}_URL
//   ...; await stop();
//
//   node scripts/services.mjs env                  # print `export K=V` lines (servers keep running)
//   node scripts/services.mjs run -- cargo test -p hektor-source-mongodb
//
// PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are the machine's own servers:
// started with the machine's commands when they are down, and left running. The tests get
// a dedicated database `hektor_test` (created when missing) and Redis logical database 9.
// MongoDB is `nx-27017` (a MongoDB wire-protocol server from PyPI), installed on first use
// into ~/.cache/hektor-tools/nx27017 and started on a free port with an in-memory store;
// `stop()` ends it. A variable already set in the environment is used as it is and its
// server is neither checked nor started.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PG_URL = 'postgres://postgres@127.0.0.1:5432/hektor_test';
const REDIS_URL = 'redis://127.0.0.1:6379/9';
const NX_DIR = path.join(os.homedir(), '.cache', 'hektor-tools', 'nx27017');
// `python3 -c` with nx-27017's console-script entry point: argv[1:] are its arguments.
const NX_MAIN = "import sys; sys.argv[0] = 'nx-27017'; from nx_27017.nx_27017 import main; sys.exit(main())";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** True when something accepts TCP connections on host:port within `ms`. */
export function canConnect(port, host = '127.0.0.1', ms = 1000) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(ms, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitForPort(port, what, ms, alive = () => true) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await canConnect(port)) return;
    if (!alive()) break;
    await sleep(200);
  }
  throw new Error(`services: ${what} is not accepting connections on 127.0.0.1:${port}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function sh(command) {
  return spawnSync('sh', ['-c', command], { encoding: 'utf8' });
}

async function ensurePostgres(log) {
  if (!(await canConnect(5432))) {
    log('services: starting PostgreSQL');
    const r = sh('pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start');
    if (r.status !== 0) throw new Error(`services: cannot start PostgreSQL: ${(r.stderr || r.stdout || '').trim()}`);
    await waitForPort(5432, 'PostgreSQL', 30_000);
  }
  const psql = (sql) => spawnSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-Atc', sql], { encoding: 'utf8' });
  const q = psql("SELECT 1 FROM pg_database WHERE datname = 'hektor_test'");
  if (q.status !== 0) throw new Error(`services: psql failed: ${(q.stderr || '').trim()}`);
  if (q.stdout.trim() !== '1') {
    const c = psql('CREATE DATABASE hektor_test');
    // a concurrent run may have created it in between
    if (c.status !== 0 && !/already exists/.test(c.stderr)) throw new Error(`services: cannot create database hektor_test: ${c.stderr.trim()}`);
  }
  return PG_URL;
}

async function ensureRedis(log) {
  if (!(await canConnect(6379))) {
    log('services: starting Redis');
    const r = sh('redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log');
    if (r.status !== 0) throw new Error(`services: cannot start Redis: ${(r.stderr || r.stdout || '').trim()}`);
    await waitForPort(6379, 'Redis', 15_000);
  }
  return REDIS_URL;
}

function nxInstalled() {
  const r = spawnSync('python3', ['-c', 'import nx_27017.nx_27017'], { env: { ...process.env, PYTHONPATH: NX_DIR }, encoding: 'utf8' });
  return r.status === 0;
}

/** Installs nx-27017 from PyPI into ~/.cache/hektor-tools/nx27017 (once per machine). */
function ensureNx(log) {
  if (nxInstalled()) return;
  log(`services: installing nx-27017 into ${NX_DIR}`);
  const tmp = `${NX_DIR}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(NX_DIR), { recursive: true });
  const r = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '--target', tmp, 'nx-27017'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`services: pip install nx-27017 failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-5).join('\n')}`);
  }
  if (nxInstalled()) {
    // a concurrent run installed it meanwhile: keep that one
    fs.rmSync(tmp, { recursive: true, force: true });
  } else {
    fs.rmSync(NX_DIR, { recursive: true, force: true }); // a broken or partial copy
    fs.renameSync(tmp, NX_DIR);
  }
  if (!nxInstalled()) throw new Error('services: nx-27017 installed but does not import');
}

async function startMongo(log, detached) {
  ensureNx(log);
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hektor-nx-'));
  const logFile = path.join(dir, 'nx-27017.log');
  const args = ['-c', NX_MAIN, '--db', 'memory', '-p', String(port), '--pid-file', path.join(dir, 'nx.pid'), '--log-file', logFile];
  const child = spawn('python3', args, {
    env: { ...process.env, PYTHONPATH: NX_DIR },
    stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'stderr.log'), 'w')],
    detached,
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  try {
    await waitForPort(port, 'nx-27017', 30_000, () => !exited);
  } catch (e) {
    child.kill('SIGKILL');
    const tail = ['stderr.log', 'nx-27017.log']
      .map((f) => path.join(dir, f))
      .filter((f) => fs.existsSync(f))
      .map((f) => fs.readFileSync(f, 'utf8').trim().split('\n').slice(-5).join('\n'))
      .join('\n');
    throw new Error(`${e.message}${tail ? `\n${tail}` : ''}`);
  }
  if (detached) child.unref();
  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      for (let i = 0; i < 30 && !exited; i++) await sleep(100);
      if (!exited) child.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return { url: `mongodb://127.0.0.1:${port}/?directConnection=true`, pid: child.pid, stop };
}

/**
 * Ensures the test servers run and returns their URLs.
 * @param {{ log?: (msg: string) => void, detached?: boolean }} [opts] `detached` leaves
 *   nx-27017 running after this process exits (for `env`).
 * @returns {Promise<{ env: Record<string, string>, stop(): Promise<void>, pids: number[] }>}
 */
export async function startServices(opts = {}) {
  const log = opts.log ?? ((m) => console.error(m));
  const env = {};
  const stops = [];
  const pids = [];
  try {
    env.HEKTOR_TEST_PG_URL = process.env.HEKTOR_TEST_PG_URL || (await ensurePostgres(log));
    env.HEKTOR_TEST_REDIS_URL = process.env.HEKTOR_TEST_REDIS_URL || (await ensureRedis(log));
    if (process.env.HEKTOR_TEST_MONGO_URL) {
      env.HEKTOR_TEST_MONGO_URL = process.env.HEKTOR_TEST_MONGO_URL;
    } else {
      const mongo = await startMongo(log, Boolean(opts.detached));
      env.HEKTOR_TEST_MONGO_URL = mongo.url;
      stops.push(mongo.stop);
      pids.push(mongo.pid);
    }
  } catch (e) {
    for (const s of stops) await s();
    throw e;
  }
  let stopped = false;
  return {
    env,
    pids,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const s of stops) await s();
    },
  };
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  if (cmd === 'env') {
    const { env, pids } = await startServices({ detached: true });
    for (const [k, v] of Object.entries(env)) console.log(`export ${k}='${v}'`);
    if (pids.length) console.log(`# nx-27017 keeps running: stop it with  kill ${pids.join(' ')}`);
    return 0;
  }
  if (cmd === 'run') {
    const args = rest[0] === '--' ? rest.slice(1) : rest;
    if (!args.length) {
      console.error('usage: node scripts/services.mjs run -- CMD [ARGS...]');
      return 2;
    }
    const services = await startServices();
    const child = spawn(args[0], args.slice(1), { stdio: 'inherit', env: { ...process.env, ...services.env } });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const code = await new Promise((resolve) => {
      child.once('error', (e) => {
        console.error(`services: cannot run ${args[0]}: ${e.message}`);
        resolve(127);
      });
      child.once('exit', (c, sig) => resolve(c ?? (sig ? 128 + (os.constants.signals[sig] ?? 0) : 1)));
    });
    await services.stop();
    return code;
  }
  console.error('usage: node scripts/services.mjs env | run -- CMD [ARGS...]');
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(e.message);
      process.exit(1);
    },
  );
}
