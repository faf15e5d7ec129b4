import type { CachedMethodDefinition } from './cached-method.js';
import { TagKinds } from './tags.js';

/**
 * The methods `@CacheResult` wrapped in one application, by class and method name. One per module
 * instance (it lives on the engine), filled by the explorer at start-up: no global state, so two
 * applications in one process never see each other's methods.
 */
export class CachedMethodRegistry {
  private readonly byClass = new Map<Function, Map<string, CachedMethodDefinition>>();
  private readonly byNamespace = new Map<string, CachedMethodDefinition>();
  /** Which tag names the application's decorators declare plain or versioned (filled at start-up). */
  readonly tags = new TagKinds();

  register(definition: CachedMethodDefinition): void {
    let methods = this.byClass.get(definition.type);
    if (!methods) {
      methods = new Map();
      this.byClass.set(definition.type, methods);
    }
    // The first instance wins (a class provided twice gives two instances with the same keys).
    if (!methods.has(definition.methodName)) methods.set(definition.methodName, definition);
    this.byNamespace.set(definition.key.namespace, definition);
  }

  get(type: Function, methodName: string): CachedMethodDefinition | undefined {
    return this.byClass.get(type)?.get(methodName);
  }

  /** The method whose keys use a namespace (namespaces are unique per application). */
  byNamespaceOf(namespace: string): CachedMethodDefinition | undefined {
    return this.byNamespace.get(namespace);
  }

  /** Every registered method. */
  all(): CachedMethodDefinition[] {
    return [...this.byClass.values()].flatMap((m) => [...m.values()]);
  }
}
