/** What the admin handlers need, as narrow interfaces. */
import type { ImageService } from '../images/index.js';

export interface NamespaceInfo {
  readonly name: string;
  readonly createdAtNs: bigint;
  readonly labels: Readonly<Record<string, string>>;
}

export interface Namespaces {
  list(): NamespaceInfo[];
  create(name: string, labels: Readonly<Record<string, string>>): NamespaceInfo;
  remove(name: string): void;
}

export type AdminImages = Pick<ImageService, 'pull' | 'tag' | 'prune' | 'push' | 'save' | 'load'>;

export interface AdminDeps {
  readonly namespaces: Namespaces;
  readonly images: AdminImages;
}
