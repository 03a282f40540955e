/**
 * The OCI runtime's view of the containers, for startup recovery: one `<runtime> list` per runtime handler
 * instead of one `<runtime> state` per container. With 400 containers on a 2-core node the per-container runs
 * kept berthd from answering for ~12 s after a restart, 20 ms of process start-up each (issue #7, BENCHMARKS.md
 * `restart`). A container the list leaves out does not exist for the runtime: state() reports that as
 * "stopped", and so does this. When the list itself fails, that handler's containers are asked one by one, as
 * before.
 */
import type { Logger } from '../base/logger.js';
import type { ContainerRuntime, RuntimeState } from './container-runtime.js';

const GONE: RuntimeState = Object.freeze({ status: 'stopped', pid: 0 });

export class StartupStates {
  /** Runtime handler -> its list (undefined: the list failed; ask per container). Each handler is listed once. */
  private readonly lists = new Map<string, Promise<ReadonlyMap<string, RuntimeState> | undefined>>();

  constructor(
    private readonly runtime: Pick<ContainerRuntime, 'state' | 'states'>,
    private readonly log: Logger,
  ) {}

  /** The container's state, or undefined when the runtime cannot tell (recovery then treats it as gone). */
  async of(id: string, runtimeHandler: string): Promise<RuntimeState | undefined> {
    let list = this.lists.get(runtimeHandler);
    if (list === undefined) {
      list = this.runtime.states(runtimeHandler).catch((err: unknown) => {
        this.log.warn({ err, runtimeHandler }, 'runtime list failed at startup; asking container by container');
        return undefined;
      });
      this.lists.set(runtimeHandler, list);
    }
    const listed = await list;
    if (listed === undefined) return this.runtime.state(id, runtimeHandler).catch(() => undefined);
    return listed.get(id) ?? GONE;
  }
}
