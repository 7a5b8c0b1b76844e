/** Defaults of the gateway; each can be overridden in GatewayOptions (or the gateway config). */
export const DEFAULTS = {
  /** request bodies above this get 413 */
  maxBodyBytes: 1024 * 1024,
  /** a body this many times over the limit is cut off instead of drained */
  maxBodyDrainFactor: 8,
  /** max_tokens when a chat request names none */
  maxTokens: 128,
  /** a moderation category is flagged above this score */
  moderationThreshold: 0.5,
  /** classifier labels that mean "nothing wrong" */
  safeLabels: ['ok'] as readonly string[],
  /**
   * What the gateway's wallet may spend unless configured otherwise (fail closed): 1 TON a day in
   * all, at most 0.05 TON per request.
   */
  spending: { periodMs: 86_400_000, total: 1_000_000_000n, perRequest: 50_000_000n },
  /** how long close() waits for cancelled generations before cutting connections, ms */
  closeGraceMs: 5_000
} as const
