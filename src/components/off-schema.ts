// Pulumi's component analyzer makes every property of a component class an output of its multi-language
// schema, and accepts there only resources of published provider packages. Child trainkit components and
// lists mixing several resource types cannot be described that way, so a component keeps them here and
// exposes them to TypeScript through getters, which the analyzer leaves out.

/** Values of component instances that TypeScript programs reach and the multi-language schema leaves out. */
export class OffSchema<T extends object> {
  private readonly values = new WeakMap<object, Partial<T>>();

  /** Records `value` as `owner`'s `key`. */
  set<K extends keyof T>(owner: object, key: K, value: T[K]): T[K] {
    const held: Partial<T> = this.values.get(owner) ?? {};
    held[key] = value;
    this.values.set(owner, held);
    return value;
  }

  /** `owner`'s `key`, as recorded in its constructor. */
  get<K extends keyof T>(owner: object, key: K): T[K] {
    return this.values.get(owner)?.[key] as T[K];
  }
}
