/**
 * Copies every reflect-metadata entry of a method onto its wrapper, with its name and length, so
 * decorators read through `Reflector` (Nest's own, other libraries') keep working on the wrapper.
 */
export function copyMethodMetadata(from: Function, to: Function): void {
  for (const key of Reflect.getOwnMetadataKeys(from)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, from), to);
  }
  Object.defineProperty(to, 'name', { value: from.name, configurable: true });
  Object.defineProperty(to, 'length', { value: from.length, configurable: true });
}
