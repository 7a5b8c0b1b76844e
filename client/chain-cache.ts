/**
 * Chain reads with a short time to live: a client that checks every provider and every model on
 * each connection would otherwise ask the API the same questions many times a second.
 * Failed reads are not cached.
 */
export class ChainCache {
  private readonly entries = new Map<string, { until: number, value: Promise<unknown> }>()

  constructor (private readonly ttlMs: number, private readonly maxEntries = 4096) {}

  async get<T> (key: string, read: () => Promise<T>): Promise<T> {
    const now = Date.now()
    const hit = this.entries.get(key)
    if (hit !== undefined && hit.until > now) return await (hit.value as Promise<T>)
    const value = read()
    if (this.entries.size >= this.maxEntries) this.entries.clear()
    this.entries.set(key, { until: now + this.ttlMs, value })
    value.catch(() => { if (this.entries.get(key)?.value === value) this.entries.delete(key) })
    return await value
  }
}
