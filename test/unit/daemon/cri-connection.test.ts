// Connections of the CRI socket: a valid :authority goes to grpc-js as the native socket (with the bytes read
// while peeking given back), a socket-path :authority through the rewriter; both answer small and large calls.
// A real grpc-js server and client on a unix socket in a temp dir; crictl (grpc-go) too when it is installed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Container, RuntimeServiceClient, RuntimeServiceService } from '../../../src/api/gen/cri.js';
import type { ListContainersResponse } from '../../../src/api/gen/cri.js';
import { buildService, tolerantDefinition } from '../../../src/cri/index.js';
import { CriConnections } from '../../../src/daemon/cri-connection.js';
import type { ConnectionRoute } from '../../../src/daemon/cri-connection.js';
import { exec } from '../../../src/base/exec.js';
import { unary } from '../../harness/grpc.js';

const log = pino({ level: 'silent' });
const CRICTL = '/usr/local/bin/crictl';
/** containerd's client: grpc-go like kubelet, sending "localhost" as :authority. */
const CTR = '/usr/bin/ctr';
const MANY = 3000;

describe('cri connections', () => {
  let dir: string;
  let socketPath: string;
  let server: Server;
  let listener: NetServer;
  let connections: CriConnections;
  const routes: ConnectionRoute[] = [];
  const big: ListContainersResponse = {
    containers: Array.from({ length: MANY }, (_, i) =>
      Container.fromPartial({ id: `c${i}`, labels: { note: 'x'.repeat(400) } }),
    ),
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-conn-'));
    socketPath = join(dir, 'cri.sock');
    server = new Server();
    const impl = buildService(
      RuntimeServiceService,
      {
        version: async () => ({ version: '0.1.0', runtimeName: 'berth', runtimeVersion: '1', runtimeApiVersion: 'v1' }),
        listContainers: async () => big,
      },
      { serviceName: 'RuntimeService', log, isReady: () => true },
    );
    server.addService(tolerantDefinition(RuntimeServiceService), impl);
    const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    connections = new CriConnections(injector, log, (r) => routes.push(r));
    listener = createServer((socket) => connections.accept(socket));
    await new Promise<void>((resolve) => listener.listen(socketPath, resolve));
  });
  after(async () => {
    listener?.close();
    server?.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  async function callBoth(client: RuntimeServiceClient): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const v = await unary(client.version.bind(client), { version: 'v1' });
      assert.equal(v.runtimeName, 'berth');
      const list = await unary(client.listContainers.bind(client), { filter: undefined });
      assert.equal(list.containers.length, MANY);
      assert.equal(list.containers[MANY - 1]?.id, `c${MANY - 1}`);
    }
  }

  it('hands a client with a valid :authority over as the native socket', async () => {
    routes.length = 0;
    const client = new RuntimeServiceClient(`unix://${socketPath}`, credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
    });
    try {
      await callBoth(client);
    } finally {
      client.close();
    }
    assert.deepEqual(routes, ['native']);
  });

  it('puts a client sending the socket path as :authority on the rewriter', async () => {
    routes.length = 0;
    const client = new RuntimeServiceClient(`unix://${socketPath}`, credentials.createInsecure(), {
      'grpc.default_authority': socketPath,
      'grpc.max_receive_message_length': -1,
    });
    try {
      await callBoth(client);
    } finally {
      client.close();
    }
    assert.deepEqual(routes, ['rewritten']);
  });

  const crictlSkip = existsSync(CRICTL) ? false : `${CRICTL} is not installed`;
  it(
    'serves crictl (grpc-go: waits for the server preface; socket path as :authority)',
    { skip: crictlSkip },
    async () => {
      routes.length = 0;
      const out = await exec({
        file: CRICTL,
        args: ['--runtime-endpoint', `unix://${socketPath}`, '--timeout', '5s', 'version'],
        env: {},
        timeoutMs: 20_000,
      });
      assert.equal(out.exitCode, 0, out.stderr);
      assert.match(out.stdout, /RuntimeName:\s+berth/);
      assert.deepEqual(routes, ['rewritten']);
    },
  );

  const ctrSkip = existsSync(CTR) ? false : `${CTR} is not installed`;
  it('serves a grpc-go client with a valid :authority on the native socket', { skip: ctrSkip }, async () => {
    routes.length = 0;
    const out = await exec({ file: CTR, args: ['--address', socketPath, 'version'], env: {}, timeoutMs: 20_000 });
    // The server has no containerd version service: a gRPC answer, so the HTTP/2 exchange worked.
    assert.match(out.stderr, /Unimplemented/, out.stderr);
    assert.deepEqual(routes, ['native']);
  });
});
