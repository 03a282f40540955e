/** Admin ListNamespaces / CreateNamespace / DeleteNamespace. */
import type {
  CreateNamespaceRequest,
  CreateNamespaceResponse,
  DeleteNamespaceRequest,
  DeleteNamespaceResponse,
  ListNamespacesRequest,
  ListNamespacesResponse,
  Namespace,
} from '../api/gen/admin.js';
import type { NamespaceInfo, Namespaces } from './deps.js';

function toWire(ns: NamespaceInfo): Namespace {
  return { name: ns.name, createdAt: ns.createdAtNs, labels: { ...ns.labels } };
}

export function listNamespaces(namespaces: Namespaces) {
  return async (_request: ListNamespacesRequest): Promise<ListNamespacesResponse> => ({
    namespaces: namespaces.list().map(toWire),
  });
}

export function createNamespace(namespaces: Namespaces) {
  return async (request: CreateNamespaceRequest): Promise<CreateNamespaceResponse> => ({
    namespace: toWire(namespaces.create(request.name, request.labels)),
  });
}

export function deleteNamespace(namespaces: Namespaces) {
  return async (request: DeleteNamespaceRequest): Promise<DeleteNamespaceResponse> => {
    namespaces.remove(request.name);
    return {};
  };
}
