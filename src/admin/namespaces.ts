/** Admin ListNamespaces / CreateNamespace / DeleteNamespace; the last two publish namespace events. */
import type {
  CreateNamespaceRequest,
  CreateNamespaceResponse,
  DeleteNamespaceRequest,
  DeleteNamespaceResponse,
  ListNamespacesRequest,
  ListNamespacesResponse,
  Namespace,
} from '../api/gen/admin.js';
import type { EventSink } from '../events/index.js';
import type { NamespaceInfo, Namespaces } from './deps.js';

function toWire(ns: NamespaceInfo): Namespace {
  return { name: ns.name, createdAt: ns.createdAtNs, labels: { ...ns.labels } };
}

export function listNamespaces(namespaces: Namespaces) {
  return async (_request: ListNamespacesRequest): Promise<ListNamespacesResponse> => ({
    namespaces: namespaces.list().map(toWire),
  });
}

export function createNamespace(namespaces: Namespaces, events: EventSink, nowNs: () => bigint) {
  return async (request: CreateNamespaceRequest): Promise<CreateNamespaceResponse> => {
    const created = namespaces.create(request.name, request.labels);
    events.publish({ type: 'namespace', action: 'created', namespace: created.name, atNs: nowNs(), fields: {} });
    return { namespace: toWire(created) };
  };
}

export function deleteNamespace(namespaces: Namespaces, events: EventSink, nowNs: () => bigint) {
  return async (request: DeleteNamespaceRequest): Promise<DeleteNamespaceResponse> => {
    namespaces.remove(request.name);
    events.publish({ type: 'namespace', action: 'removed', namespace: request.name, atNs: nowNs(), fields: {} });
    return {};
  };
}
