import { TagKinds } from './tags.js';

/** What the registry reads of a cached method (lib/service's `CachedMethodDefinition` is one). */
export interface RegisteredMethod {
  readonly type: Function;
  readonly methodName: string;
  /** `ClassName.methodName`, for messages. */
  readonly name: string;
  readonly key: { readonly namespace: string };
}

/**
 * The methods `@CacheResult` wrapped in one application, by class and method name. One per module
 * instance (it lives on the engine), filled by the explorer at start-up: no global state, so two
 * applications in one process never see each other's methods. It holds them as `RegisteredMethod`s
 * (the engine sits below the layer that defines them); `get` hands one back as the caller's class.
 */
export class CachedMethodRegistry {
  private readonly byClass = new Map<Function, Map<string, RegisteredMethod>>();
  private readonly byNamespace = new Map<string, RegisteredMethod>();
  /** Which tag names the application's decorators declare plain or versioned (filled at start-up). */
  readonly tags = new TagKinds();
  /** Whether a method carries `@CacheResult`, from the decorators' metadata (see `readDecorationsWith`). */
  private decorated: (type: Function, methodName: string) => boolean = () => false;

  register(definition: RegisteredMethod): void {
    let methods = this.byClass.get(definition.type);
    if (!methods) {
      methods = new Map();
      this.byClass.set(definition.type, methods);
    }
    // The first instance wins (a class provided twice gives two instances with the same keys).
    if (!methods.has(definition.methodName)) methods.set(definition.methodName, definition);
    this.byNamespace.set(definition.key.namespace, definition);
  }

  /** The method registered for `type.methodName`, when it is a `kind` (the definition class of the caller). */
  get<D extends RegisteredMethod>(type: Function, methodName: string, kind: abstract new (...args: never[]) => D): D | undefined {
    const found = this.byClass.get(type)?.get(methodName);
    return found instanceof kind ? found : undefined;
  }

  /**
   * How to tell whether a method carries `@CacheResult`, wrapped or not (the explorer gives it at
   * start-up: it reads the decorators' metadata, which the engine does not import).
   */
  readDecorationsWith(decorated: (type: Function, methodName: string) => boolean): void {
    this.decorated = decorated;
  }

  /** Whether `type.methodName` carries `@CacheResult`; a class Nest does not create is never wrapped, so never registered. */
  isDecorated(type: Function, methodName: string): boolean {
    return this.decorated(type, methodName);
  }

  /** The methods registered as `ClassName.methodName` (two classes may share a name). */
  named(name: string): RegisteredMethod[] {
    const found: RegisteredMethod[] = [];
    for (const methods of this.byClass.values()) for (const m of methods.values()) if (m.name === name) found.push(m);
    return found;
  }

  /** `ClassName.methodName` of every registered method. */
  names(): string[] {
    return [...this.byClass.values()].flatMap((methods) => [...methods.values()].map((m) => m.name));
  }

  /** The method whose keys use a namespace (namespaces are unique per application). */
  byNamespaceOf(namespace: string): RegisteredMethod | undefined {
    return this.byNamespace.get(namespace);
  }
}
