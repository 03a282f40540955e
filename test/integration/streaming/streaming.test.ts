// The stream server for real: exec, attach and port-forward URLs from berthd's CRI service, sessions over
// SPDY/3.1 (as crictl and kubelet speak it) and WebSocket (as the berth CLI does), against runc containers
// under conmon in a pod on the test's CNI network.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { Writable, PassThrough } from 'node:stream';
import { status as grpcStatus } from '@grpc/grpc-js';
import WebSocket from 'ws';
import { ContainerConfig, ContainerState, PodSandboxConfig } from '../../../src/api/gen/cri.js';
import { runCommandSession, forwardConnection } from '../../../src/cli/stream-client.js';
import { integrationSkipReason, startBerthd } from '../../harness/berthd.js';
import type { Berthd } from '../../harness/berthd.js';
import { unary, unaryError } from '../../harness/grpc.js';
import { registrySkipReason, startRegistry } from '../../harness/registry.js';
import type { Registry } from '../../harness/registry.js';
import { buildTestImages } from '../../harness/test-images.js';
import { spdyCommand, spdyUpgrade } from '../../harness/spdy-client.js';
import { waitFor } from '../../harness/wait.js';

const skip = integrationSkipReason() ?? (await registrySkipReason());

function sink(): { stream: Writable; text: () => string; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8'), bytes: () => Buffer.concat(chunks) };
}

for (const tls of [false, true]) {
  describe(`stream server${tls ? ' (TLS)' : ''}`, { skip, timeout: 300_000 }, () => {
    let registry: Registry;
    let berthd: Berthd;
    let image: string;
    let podId: string;
    let shellId: string;
    before(async () => {
      registry = await startRegistry();
      await buildTestImages(registry);
      // The TLS variant: enable_tls_streaming with no pair configured, so berthd makes a self-signed one.
      berthd = await startBerthd(tls ? { criToml: 'enable_tls_streaming = true' } : {});
      image = `${registry.host}/berth-test/busybox:latest`;
      const img = berthd.image();
      const spec = { image, annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
      await unary(img.pullImage.bind(img), { image: spec, auth: undefined, sandboxConfig: undefined }, 60_000);
      const rt = berthd.runtime();
      const config = PodSandboxConfig.fromJSON({
        metadata: { name: 'stream-pod', namespace: 'test', uid: 'stream-pod-uid', attempt: 0 },
        hostname: 'stream-pod',
        logDirectory: `${berthd.dir}/pod-logs`,
      });
      podId = (await unary(rt.runPodSandbox.bind(rt), { config, runtimeHandler: '' }, 30_000)).podSandboxId;
      shellId = await run('shell', { command: ['sleep', '3600'] });
    });
    after(async () => {
      if (berthd !== undefined && podId !== undefined) {
        const rt = berthd.runtime();
        await unary(rt.removePodSandbox.bind(rt), { podSandboxId: podId }, 60_000).catch(() => undefined);
      }
      await berthd?.cleanup();
      await registry?.stop();
    });

    const rt = () => berthd.runtime();
    async function create(name: string, extra: Record<string, unknown>): Promise<string> {
      const config = ContainerConfig.fromJSON({
        metadata: { name },
        image: { image },
        logPath: `${name}.log`,
        ...extra,
      });
      const { containerId } = await unary(
        rt().createContainer.bind(rt()),
        { podSandboxId: podId, config, sandboxConfig: undefined },
        60_000,
      );
      return containerId;
    }
    const start = (containerId: string) => unary(rt().startContainer.bind(rt()), { containerId }, 30_000);
    async function run(name: string, extra: Record<string, unknown>): Promise<string> {
      const containerId = await create(name, extra);
      await start(containerId);
      return containerId;
    }
    const execUrl = async (cmd: string[], o: { tty?: boolean; stdin?: boolean; stderr?: boolean } = {}) =>
      (
        await unary(rt().exec.bind(rt()), {
          containerId: shellId,
          cmd,
          tty: o.tty ?? false,
          stdin: o.stdin ?? false,
          stdout: true,
          stderr: o.stderr ?? !(o.tty ?? false),
        })
      ).url;

    it(`hands out ${tls ? 'https' : 'http'} URLs on the configured address`, async () => {
      const url = await execUrl(['true']);
      assert.match(url, tls ? /^https:\/\/127\.0\.0\.1:\d+\/exec\// : /^http:\/\/127\.0\.0\.1:\d+\/exec\//);
    });

    it('SPDY exec: output on stdout and stderr, exit code in the v4 status', async () => {
      const res = await spdyCommand(await execUrl(['sh', '-c', 'echo out; echo err >&2; exit 7']));
      assert.equal(res.stdout.toString(), 'out\n');
      assert.equal(res.stderr.toString(), 'err\n');
      const status = JSON.parse(res.status) as { status: string; reason: string; details: unknown };
      assert.equal(status.status, 'Failure');
      assert.equal(status.reason, 'NonZeroExitCode');
      assert.deepEqual(status.details, { causes: [{ reason: 'ExitCode', message: '7' }] });
      const ok = await spdyCommand(await execUrl(['true']));
      assert.deepEqual(JSON.parse(ok.status), { metadata: {}, status: 'Success' });
    });

    it('SPDY exec with piped stdin, and the older protocols', async () => {
      const res = await spdyCommand(await execUrl(['sh', '-c', 'wc -c; cat >&2'], { stdin: true }), {
        stdin: Buffer.from('hello world\n'),
      });
      assert.equal(res.stdout.toString().trim(), '12');
      for (const protocol of ['v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']) {
        const old = await spdyCommand(await execUrl(['sh', '-c', 'echo hi; exit 2']), { protocol });
        assert.equal(old.stdout.toString(), 'hi\n', protocol);
        assert.match(old.status, /exit code 2/, protocol);
      }
    });

    it('SPDY exec with a TTY sees the client window size', async () => {
      const res = await spdyCommand(await execUrl(['stty', 'size'], { tty: true, stdin: true }), {
        tty: true,
        stdin: Buffer.alloc(0),
        size: { width: 123, height: 45 },
        onStdout: () => undefined,
      });
      assert.equal(res.stdout.toString().trim(), '45 123');
    });

    it('WebSocket exec: exit codes, stdin closed with the v5 close signal, resize on a TTY', async () => {
      const out = sink();
      const err = sink();
      const code = await runCommandSession(await execUrl(['sh', '-c', 'echo out; echo err >&2; exit 3']), {
        stdin: undefined,
        stdout: out.stream,
        stderr: err.stream,
      });
      assert.equal(code, 3);
      assert.equal(out.text(), 'out\n');
      assert.equal(err.text(), 'err\n');

      const input = new PassThrough();
      const counted = sink();
      const pending = runCommandSession(await execUrl(['wc', '-c'], { stdin: true }), {
        stdin: input,
        stdout: counted.stream,
        stderr: sink().stream,
      });
      input.end('12345');
      assert.equal(await pending, 0);
      assert.equal(counted.text().trim(), '5');

      const sized = sink();
      assert.equal(
        await runCommandSession(await execUrl(['stty', 'size'], { tty: true }), {
          stdin: undefined,
          stdout: sized.stream,
          stderr: sink().stream,
          terminal: { size: () => ({ width: 77, height: 33 }), onResize: () => () => undefined },
        }),
        0,
      );
      assert.equal(sized.text().trim(), '33 77');
    });

    it('a TTY session follows resizes while it runs', async () => {
      const input = new PassThrough();
      const out = sink();
      let size = { width: 77, height: 33 };
      let resized: (() => void) | undefined;
      const session = runCommandSession(await execUrl(['sh'], { tty: true, stdin: true }), {
        stdin: input,
        stdout: out.stream,
        stderr: sink().stream,
        terminal: {
          size: () => size,
          onResize: (handler) => {
            resized = handler;
            return () => undefined;
          },
        },
      });
      input.write('stty size\n');
      await waitFor('first size', async () => (out.text().includes('33 77') ? true : undefined));
      size = { width: 140, height: 50 };
      resized?.();
      await new Promise((r) => setTimeout(r, 200));
      input.write('stty size\n');
      await waitFor('new size', async () => (out.text().includes('50 140') ? true : undefined));
      input.write('exit 9\n');
      assert.equal(await session, 9);
    });

    it('WebSocket base64.channel.k8s.io and v4.channel.k8s.io framing', async () => {
      const session = async (protocol: string, cmd: string[]) => {
        const url = (await execUrl(cmd)).replace(/^http/, 'ws');
        const ws = new WebSocket(url, [protocol], { rejectUnauthorized: false });
        const frames: { text: boolean; data: Buffer }[] = [];
        ws.on('message', (data: Buffer, isBinary: boolean) => frames.push({ text: !isBinary, data }));
        await new Promise((resolve, reject) => {
          ws.once('close', resolve);
          ws.once('error', reject);
        });
        assert.equal(ws.protocol, protocol);
        return frames;
      };
      const b64 = await session('base64.channel.k8s.io', ['sh', '-c', 'echo hi; echo oops >&2; exit 1']);
      assert.ok(b64.every((f) => f.text));
      const decoded = (ch: string) =>
        b64
          .filter((f) => f.data.toString().startsWith(ch))
          .map((f) => Buffer.from(f.data.toString().slice(1), 'base64').toString())
          .join('');
      assert.equal(decoded('1'), 'hi\n');
      assert.equal(decoded('2'), 'oops\n');
      assert.match(decoded('3'), /exit code 1/); // text status before v4
      const v4 = await session('v4.channel.k8s.io', ['sh', '-c', 'echo hi; exit 4']);
      const status = v4
        .filter((f) => f.data[0] === 3)
        .map((f) => f.data.subarray(1).toString())
        .join('');
      assert.match(status, /"reason":"NonZeroExitCode"/);
      assert.equal(
        v4
          .filter((f) => f.data[0] === 1)
          .map((f) => f.data.subarray(1).toString())
          .join(''),
        'hi\n',
      );
    });

    it('streams 100 MiB of output without loss (SPDY and WebSocket)', async () => {
      const size = 100 * 1024 * 1024;
      const cmd = ['sh', '-c', `yes 0123456789abcdef | head -c ${size}`];
      const expected = createHash('sha256').update(Buffer.alloc(size, '0123456789abcdef\n')).digest('hex');
      const spdy = await spdyCommand(await execUrl(cmd));
      assert.equal(spdy.stdout.length, size);
      assert.equal(createHash('sha256').update(spdy.stdout).digest('hex'), expected);
      const hash = createHash('sha256');
      let bytes = 0;
      const out = new Writable({
        write(chunk: Buffer, _e, cb) {
          hash.update(chunk);
          bytes += chunk.length;
          cb();
        },
      });
      assert.equal(
        await runCommandSession(await execUrl(cmd), { stdin: undefined, stdout: out, stderr: sink().stream }),
        0,
      );
      assert.equal(bytes, size);
      assert.equal(hash.digest('hex'), expected);
    });

    it('runs 20 exec sessions at once', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const res = await spdyCommand(await execUrl(['sh', '-c', `sleep 0.5; echo ${i}; exit ${i}`]));
          return { out: res.stdout.toString().trim(), status: res.status };
        }),
      );
      results.forEach((r, i) => {
        assert.equal(r.out, String(i));
        if (i === 0) assert.match(r.status, /Success/);
        else assert.match(r.status, new RegExp(`"message":"${i}"`));
      });
    });

    it('refuses reused, unknown and misrouted tokens with 404, and unknown protocols with 403', async () => {
      const url = await execUrl(['true']);
      await spdyCommand(url);
      const reused = await spdyUpgrade(url, ['v4.channel.k8s.io']);
      assert.equal(reused.status, 404);
      const unknown = await spdyUpgrade(url.replace(/\/exec\/.*$/, '/exec/AAAAAAAAAAA'), ['v4.channel.k8s.io']);
      assert.equal(unknown.status, 404);
      const misrouted = await spdyUpgrade((await execUrl(['true'])).replace('/exec/', '/attach/'), [
        'v4.channel.k8s.io',
      ]);
      assert.equal(misrouted.status, 404);
      const noProtocol = await spdyUpgrade(await execUrl(['true']), ['v9.channel.k8s.io']);
      assert.equal(noProtocol.status, 403);
      assert.match(noProtocol.headers['x-accepted-stream-protocol-versions'] ?? '', /v4\.channel\.k8s\.io/);
    });

    it('refuses bad Exec, Attach and PortForward requests over gRPC', async () => {
      const e1 = await unaryError(rt().exec.bind(rt()), {
        containerId: shellId,
        cmd: ['true'],
        tty: true,
        stdin: false,
        stdout: true,
        stderr: true,
      });
      assert.equal(e1.code, grpcStatus.INVALID_ARGUMENT);
      const e2 = await unaryError(rt().exec.bind(rt()), {
        containerId: 'nope',
        cmd: ['true'],
        tty: false,
        stdin: false,
        stdout: true,
        stderr: false,
      });
      assert.equal(e2.code, grpcStatus.NOT_FOUND);
      const e3 = await unaryError(rt().attach.bind(rt()), {
        containerId: shellId,
        stdin: true,
        tty: false,
        stdout: true,
        stderr: true,
      });
      assert.equal(e3.code, grpcStatus.INVALID_ARGUMENT); // created without stdin
      const e4 = await unaryError(rt().portForward.bind(rt()), { podSandboxId: podId, port: [70000] });
      assert.equal(e4.code, grpcStatus.INVALID_ARGUMENT);
    });

    it('attach: relays stdin and output of the main process; detach leaves it running', async () => {
      const id = await run(`echo-${tls ? 'tls' : 'plain'}`, {
        command: ['sh', '-c', 'while read line; do echo "got:$line"; done'],
        stdin: true,
      });
      const url = (
        await unary(rt().attach.bind(rt()), { containerId: id, stdin: true, tty: false, stdout: true, stderr: true })
      ).url;
      const up = await spdyUpgrade(url, ['v4.channel.k8s.io']);
      const session = up.session!;
      session.openStream({ streamtype: 'error' }).resume();
      const stdin = session.openStream({ streamtype: 'stdin' });
      const stdout = session.openStream({ streamtype: 'stdout' });
      session.openStream({ streamtype: 'stderr' }).resume();
      let seen = '';
      stdout.on('data', (c: Buffer) => (seen += c.toString()));
      stdin.write('hello\n');
      await waitFor('attach output', async () => (seen.includes('got:hello') ? true : undefined));
      session.destroy(); // detach
      // Attach again over WebSocket: the same process, still reading its stdin.
      const url2 = (
        await unary(rt().attach.bind(rt()), { containerId: id, stdin: true, tty: false, stdout: true, stderr: true })
      ).url;
      const input = new PassThrough();
      const out = sink();
      const ws = runCommandSession(url2, { stdin: input, stdout: out.stream, stderr: sink().stream });
      input.write('again\n');
      await waitFor('second attach output', async () => (out.text().includes('got:again') ? true : undefined));
      assert.ok(!out.text().includes('got:hello'), 'attach relays output from the moment it attached');
      const status = await unary(rt().containerStatus.bind(rt()), { containerId: id, verbose: false });
      assert.equal(status.status?.state, 1); // still running after a detach
      // The main process ends: the session ends with it (the output ends when the container exits).
      await unary(rt().stopContainer.bind(rt()), { containerId: id, timeout: 1n }, 30_000);
      assert.equal(await ws, 0);
    });

    it('port-forward to a host-network pod dials from the host', async () => {
      const port = 20000 + Math.floor(Math.random() * 20000) + (tls ? 1 : 0);
      const config = PodSandboxConfig.fromJSON({
        metadata: { name: `host-pod-${tls ? 'tls' : 'plain'}`, namespace: 'test', uid: `host-pod-uid-${String(tls)}` },
        logDirectory: `${berthd.dir}/pod-logs`,
        linux: { securityContext: { namespaceOptions: { network: 'NODE' } } },
      });
      const hostPod = (await unary(rt().runPodSandbox.bind(rt()), { config, runtimeHandler: '' }, 30_000)).podSandboxId;
      try {
        const cconfig = ContainerConfig.fromJSON({
          metadata: { name: 'host-httpd' },
          image: { image },
          logPath: 'host-httpd.log',
          command: [
            'sh',
            '-c',
            `mkdir -p /www && echo from-host-net > /www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /www`,
          ],
        });
        const { containerId } = await unary(
          rt().createContainer.bind(rt()),
          { podSandboxId: hostPod, config: cconfig, sandboxConfig: config },
          60_000,
        );
        await unary(rt().startContainer.bind(rt()), { containerId }, 30_000);
        const body = await waitFor('host httpd', async () => {
          const url = (await unary(rt().portForward.bind(rt()), { podSandboxId: hostPod, port: [port] })).url;
          const up = await spdyUpgrade(url, ['portforward.k8s.io']);
          const session = up.session!;
          const error = session.openStream({ streamtype: 'error', port: String(port), requestid: '0' });
          const data = session.openStream({ streamtype: 'data', port: String(port), requestid: '0' });
          error.resume();
          const chunks: Buffer[] = [];
          data.on('data', (c: Buffer) => chunks.push(c));
          data.write('GET /index.html HTTP/1.0\r\n\r\n');
          await new Promise((r) => data.once('end', r));
          session.destroy();
          const text = Buffer.concat(chunks).toString();
          return text.includes('from-host-net') ? text : undefined;
        });
        assert.match(body, /200 OK/);
      } finally {
        await unary(rt().removePodSandbox.bind(rt()), { podSandboxId: hostPod }, 60_000).catch(() => undefined);
      }
    });

    it('attach to a created container: all output from the start, stdin_once ends with the input', async () => {
      const suffix = tls ? 'tls' : 'plain';
      const id = await create(`early-${suffix}`, {
        command: ['sh', '-c', 'echo first; wc -l; echo err >&2; exit 5'],
        stdin: true,
        stdinOnce: true,
      });
      const url = (
        await unary(rt().attach.bind(rt()), { containerId: id, stdin: true, tty: false, stdout: true, stderr: true })
      ).url;
      const out = sink();
      const err = sink();
      const input = new PassThrough();
      const started: Promise<unknown>[] = [];
      const session = runCommandSession(url, {
        stdin: input,
        stdout: out.stream,
        stderr: err.stream,
        onOpen: () => started.push(start(id)),
      });
      input.end('a\nb\nc\n');
      assert.equal(await session, 0, 'attach ends with success; the exit code is in ContainerStatus');
      await Promise.all(started);
      assert.equal(started.length, 1);
      assert.equal(out.text(), 'first\n3\n', 'nothing lost before the session was up; wc saw the end of stdin');
      assert.equal(err.text(), 'err\n');
      const status = await waitFor('the exit', async () => {
        const s = await unary(rt().containerStatus.bind(rt()), { containerId: id, verbose: false });
        return s.status?.state === ContainerState.CONTAINER_EXITED ? s.status : undefined;
      });
      assert.equal(status.exitCode, 5);
      const exited = await unaryError(rt().attach.bind(rt()), {
        containerId: id,
        stdin: false,
        tty: false,
        stdout: true,
        stderr: true,
      });
      assert.equal(exited.code, grpcStatus.FAILED_PRECONDITION);
      assert.match(exited.details, /is exited: only a created or running one can be attached to/);
    });

    it('port-forward: HTTP from a server in the pod, over SPDY and WebSocket, several connections at once', async () => {
      await run(`httpd-${tls ? 'tls' : 'plain'}`, {
        command: [
          'sh',
          '-c',
          'mkdir -p /www && echo hello-from-pod > /www/index.html && exec httpd -f -p 8080 -h /www',
        ],
      });
      const pfUrl = async () =>
        (await unary(rt().portForward.bind(rt()), { podSandboxId: podId, port: [8080, 8081] })).url;
      // Wait for httpd to listen (its first accepted connection).
      const up = await spdyUpgrade(await pfUrl(), ['portforward.k8s.io']);
      assert.equal(up.status, 101);
      assert.equal(up.headers['x-stream-protocol-version'], 'portforward.k8s.io');
      const session = up.session!;
      const get = async (requestId: number): Promise<string> => {
        const error = session.openStream({ streamtype: 'error', port: '8080', requestid: String(requestId) });
        const data = session.openStream({ streamtype: 'data', port: '8080', requestid: String(requestId) });
        const chunks: Buffer[] = [];
        const errors: Buffer[] = [];
        error.on('data', (c: Buffer) => errors.push(c));
        data.on('data', (c: Buffer) => chunks.push(c));
        data.write('GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n');
        await new Promise((resolve) => data.once('end', resolve));
        const err = Buffer.concat(errors).toString();
        if (err !== '') throw new Error(err);
        return Buffer.concat(chunks).toString();
      };
      const first = await waitFor('httpd in the pod', async () => {
        try {
          return await get(0);
        } catch {
          return undefined;
        }
      });
      assert.match(first, /hello-from-pod/);
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => get(i + 1)));
      for (const body of many) assert.match(body, /200 OK[\s\S]*hello-from-pod/);
      // A closed port is reported on the error stream.
      const error = session.openStream({ streamtype: 'error', port: '8081', requestid: '99' });
      const data = session.openStream({ streamtype: 'data', port: '8081', requestid: '99' });
      data.resume();
      const message = await new Promise<string>((resolve) => {
        const c: Buffer[] = [];
        error.on('data', (x: Buffer) => c.push(x));
        error.once('end', () => resolve(Buffer.concat(c).toString()));
      });
      assert.match(message, /8081.*(refused|Connection)/i);
      session.destroy();

      // WebSocket: the CLI's forwarder, through a local listener.
      const listener = createServer({ pauseOnConnect: true }, (conn) => {
        void pfUrl().then((url) => forwardConnection(url, 8080, conn));
      });
      await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
      const port = (listener.address() as { port: number }).port;
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/index.html', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end();
      });
      listener.close();
      assert.equal(body, 'hello-from-pod\n');
    });
  });
}
