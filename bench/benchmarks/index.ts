/**
 * Every benchmark, in run order. To add one: write bench/benchmarks/<name>.ts exporting a Benchmark
 * (see bench/benchmark.ts) and append it here.
 */
import type { Benchmark } from '../benchmark.js';
import { coldStart } from './cold-start.js';
import { idleRss } from './idle-rss.js';
import { imagePull } from './image-pull.js';
import { runPod } from './run-pod.js';
import { containerMemory } from './container-memory.js';
import { containerStart } from './container-start.js';
import { versionLatency } from './version-latency.js';
import { scaleMemory } from './scale-memory.js';
import { listLatency } from './list-latency.js';
import { statsLatency } from './stats-latency.js';
import { restart } from './restart.js';
import { concurrentChains } from './concurrent-chains.js';

export const BENCHMARKS: readonly Benchmark[] = Object.freeze([
  coldStart,
  versionLatency,
  idleRss,
  imagePull,
  runPod,
  containerMemory,
  containerStart,
  scaleMemory,
  listLatency,
  statsLatency,
  restart,
  concurrentChains,
]);
