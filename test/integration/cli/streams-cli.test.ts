// berth exec (streaming, -i, -t), attach and port-forward against a real berthd, runc, conmon and the test CNI
// network: the CLI side of the stream server, over WebSocket.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { integrationSkipReason, runBerth, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { BERTH_MAIN } from '../../harness/paths.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('berth exec, attach and port-forward', { skip, timeout: 180_000 }, () => {
  let registry: Registry;
  let berthd: Berthd;
  let pod: string;
  let web: string;
  let echo: string;
  before(async () => {
    registry = await startRegistry();
    await buildTestImages(registry);
    berthd = await startBerthd();
    const image = `${registry.host}/berth-test/busybox:latest`;
    const podFile = join(berthd.dir, 'pod.json');
    await writeFile(
      podFile,
      JSON.stringify({
        metadata: { name: 'streams', namespace: 'default', uid: 'streams-uid' },
        log_directory: join(berthd.dir, 'logs'),
      }),
    );
    const ctr = async (name: string, extra: Record<string, unknown>): Promise<string> => {
      const file = join(berthd.dir, `${name}.json`);
      await writeFile(
        file,
        JSON.stringify({ metadata: { name }, image: { image }, log_path: `${name}.log`, ...extra }),
      );
      const id = berth('create', pod, file, podFile).stdout.trim();
      assert.equal(berth('start', id).status, 0);
      return id;
    };
    assert.equal(berth('pull', image).status, 0);
    pod = berth('runp', podFile).stdout.trim();
    web = await ctr('web', {
      command: ['sh', '-c', 'mkdir -p /www && echo served > /www/index.html && exec httpd -f -p 8080 -h /www'],
    });
    echo = await ctr('echo', { command: ['sh', '-c', 'while read l; do echo "got:$l"; done'], stdin: true });
  });
  after(async () => {
    if (pod !== undefined) assert.equal(berth('rmp', pod).status, 0, 'the pod and its containers are removed');
    await berthd?.cleanup();
    await registry?.stop();
  });
  const berth = (...args: string[]) => runBerth(['--address', berthd.address, ...args], {}, 60_000);

  it('exec streams stdout and stderr and passes the exit code through', () => {
    const res = berth('exec', web, '--', 'sh', '-c', 'echo out; echo err >&2; exit 6');
    assert.equal(res.stdout, 'out\n');
    assert.equal(res.stderr, 'err\n');
    assert.equal(res.status, 6);
    assert.equal(berth('exec', '-s', web, 'true').status, 0, '--sync still works');
  });

  it('exec -i feeds piped stdin and ends it', () => {
    const res = spawnSync(process.execPath, [BERTH_MAIN, '--address', berthd.address, 'exec', '-i', web, 'wc', '-l'], {
      input: 'a\nb\nc\n',
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(res.stdout.trim(), '3');
    assert.equal(res.status, 0);
  });

  it("exec -it gives the command a terminal of the caller's size (through script(1) as the caller's pty)", () => {
    const cmd = `stty cols 91 rows 27; ${process.execPath} ${BERTH_MAIN} --address ${berthd.address} exec -it ${web} sh -c 'tty; stty size; exit 2'`;
    const res = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
    assert.match(res.stdout, /\/dev\/pts\/\d+/);
    assert.match(res.stdout, /27 91/);
    assert.equal(res.status, 2);
  });

  it('attach relays stdin to the main process and its output back', async () => {
    const child = spawn(process.execPath, [BERTH_MAIN, '--address', berthd.address, 'attach', '-i', echo], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stdin.write('ping\n');
    const deadline = Date.now() + 15_000;
    while (!out.includes('got:ping') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /got:ping/);
    child.kill('SIGINT'); // detach
    await new Promise((r) => child.once('exit', r));
    const ps = berth('ps', '-q', '--state', 'running');
    assert.match(ps.stdout, new RegExp(echo.slice(0, 12)));
  });

  it('port-forward serves a pod port on 127.0.0.1, one connection after another and at once', async () => {
    const child = spawn(process.execPath, [BERTH_MAIN, '--address', berthd.address, 'port-forward', pod, '0:8080'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const deadline = Date.now() + 15_000;
      while (!/127\.0\.0\.1:(\d+)/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
      assert.ok(port > 0, out);
      let first: { status: number; body: string } | undefined;
      while (first === undefined && Date.now() < deadline) {
        first = await httpGet(port, '/index.html').catch(() => undefined);
        if (first?.status !== 200) {
          first = undefined;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      assert.equal(first?.body, 'served\n');
      const many = await Promise.all(Array.from({ length: 5 }, () => httpGet(port, '/index.html')));
      for (const r of many) assert.equal(r.body, 'served\n');
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
