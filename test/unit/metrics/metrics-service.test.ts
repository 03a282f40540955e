// The metrics service: RPC counts and histograms, pull bytes and durations from events, gauges read from their
// sources at each scrape, the HTTP endpoint (only /metrics), and listen addresses.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { MetricsService, formatListenAddress, parseListenAddress } from '../../../src/metrics/index.js';
import { errorCode } from '../../../src/base/errors.js';

const log = pino({ level: 'silent' });

function service(states: { running: number }) {
  return new MetricsService({
    address: '127.0.0.1:0',
    log,
    sources: {
      containersByState: () => ({ created: 0, running: states.running, exited: 1 }),
      podsByState: () => ({ ready: 2, notready: 0 }),
    },
  });
}

describe('MetricsService', () => {
  it('counts calls per service, method and code, with a latency histogram', async () => {
    const m = service({ running: 0 });
    try {
      m.observeRpc({ service: 'RuntimeService', method: 'ListContainers', code: 'OK', durationMs: 2 });
      m.observeRpc({ service: 'RuntimeService', method: 'ListContainers', code: 'OK', durationMs: 40 });
      m.observeRpc({ service: 'Admin', method: 'DeleteContent', code: 'NOT_FOUND', durationMs: 1 });
      const text = await m.text();
      assert.match(
        text,
        /^berth_grpc_requests_total\{service="RuntimeService",method="ListContainers",code="OK"\} 2$/m,
      );
      assert.match(text, /^berth_grpc_requests_total\{service="Admin",method="DeleteContent",code="NOT_FOUND"\} 1$/m);
      assert.match(
        text,
        /^berth_grpc_request_duration_seconds_bucket\{le="0\.005",service="RuntimeService",method="ListContainers"\} 1$/m,
      );
      assert.match(
        text,
        /^berth_grpc_request_duration_seconds_bucket\{le="0\.05",service="RuntimeService",method="ListContainers"\} 2$/m,
      );
      assert.match(
        text,
        /^berth_grpc_request_duration_seconds_sum\{service="RuntimeService",method="ListContainers"\} 0\.042$/m,
      );
    } finally {
      await m.close();
    }
  });

  it('adds completed pulls from their events and ignores other events', async () => {
    const m = service({ running: 0 });
    try {
      m.observeEvent({
        type: 'image',
        action: 'pulled',
        namespace: 'k8s.io',
        atNs: 1n,
        fields: { id: 'x', bytes: 1500, durationMs: 2500 },
      });
      m.observeEvent({ type: 'image', action: 'tagged', namespace: 'k8s.io', atNs: 1n, fields: { bytes: 99 } });
      const text = await m.text();
      assert.match(text, /^berth_image_pull_bytes_total 1500$/m);
      assert.match(text, /^berth_image_pull_duration_seconds_count 1$/m);
      assert.match(text, /^berth_image_pull_duration_seconds_bucket\{le="5"\} 1$/m);
      assert.match(text, /^berth_image_pull_duration_seconds_bucket\{le="1"\} 0$/m);
    } finally {
      await m.close();
    }
  });

  it('reads containers and pods by state at each scrape', async () => {
    const states = { running: 3 };
    const m = service(states);
    try {
      assert.match(await m.text(), /^berth_containers\{state="running"\} 3$/m);
      states.running = 1;
      const text = await m.text();
      assert.match(text, /^berth_containers\{state="running"\} 1$/m);
      assert.match(text, /^berth_containers\{state="exited"\} 1$/m);
      assert.match(text, /^berth_pods\{state="ready"\} 2$/m);
      assert.match(text, /^process_cpu_user_seconds_total /m, 'default process metrics');
    } finally {
      await m.close();
    }
  });

  it('serves GET /metrics over HTTP and nothing else', async () => {
    const m = service({ running: 0 });
    await m.start();
    try {
      assert.match(m.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const res = await fetch(m.url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.match(await res.text(), /^# TYPE berth_containers gauge$/m);
      const other = await fetch(m.url.replace('/metrics', '/'));
      assert.equal(other.status, 404);
      await other.text();
      const post = await fetch(m.url, { method: 'POST' });
      assert.equal(post.status, 405);
      await post.text();
    } finally {
      await m.close();
      await m.close(); // idempotent
    }
  });

  it('fails start with FAILED_PRECONDITION when the address is taken', async () => {
    const first = service({ running: 0 });
    await first.start();
    const second = new MetricsService({
      address: first.address,
      log,
      sources: { containersByState: () => ({}), podsByState: () => ({}) },
    });
    try {
      await assert.rejects(second.start(), (err) => errorCode(err) === 'FAILED_PRECONDITION');
    } finally {
      await second.close();
      await first.close();
    }
  });
});

describe('listen addresses', () => {
  it('parse HOST:PORT and [IPv6]:PORT, and refuse the rest', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9090'), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListenAddress('localhost:80'), { host: 'localhost', port: 80 });
    assert.equal(formatListenAddress({ host: '::1', port: 9 }), '[::1]:9');
    assert.equal(formatListenAddress({ host: '10.0.0.1', port: 9 }), '10.0.0.1:9');
    for (const bad of ['', '9090', ':9090', '127.0.0.1:70000', '::1:9090', 'http://x:1']) {
      assert.throws(
        () => parseListenAddress(bad),
        (err) => errorCode(err) === 'INVALID_ARGUMENT',
        bad,
      );
    }
  });
});
