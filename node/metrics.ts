import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** The node's Prometheus metrics, on a registry of its own (several nodes can share a process). */
export class NodeMetrics {
  readonly registry = new Registry()
  readonly jobs = new Counter({ name: 'silk_jobs_total', help: 'jobs answered with a result', labelNames: ['model'] as const, registers: [this.registry] })
  readonly errors = new Counter({ name: 'silk_job_errors_total', help: 'error frames sent, by code', labelNames: ['code'] as const, registers: [this.registry] })
  readonly latency = new Histogram({
    name: 'silk_job_duration_seconds',
    help: 'time from job request to result sent',
    labelNames: ['model'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry]
  })
  readonly sessions = new Gauge({ name: 'silk_sessions', help: 'open client sessions', registers: [this.registry] })
  readonly queueDepth = new Gauge({ name: 'silk_queue_depth', help: 'jobs queued or running in inference', registers: [this.registry] })
  readonly earned = new Gauge({ name: 'silk_earned_nanoton', help: 'value of vouchers held (cumulative)', registers: [this.registry] })
  readonly claimed = new Gauge({ name: 'silk_claimed_nanoton', help: 'value claimed on chain (cumulative)', registers: [this.registry] })
  readonly claims = new Counter({ name: 'silk_claims_total', help: 'claim transactions, by outcome (ok, failed, skipped_<reason> when the claim policy said wait)', labelNames: ['outcome'] as const, registers: [this.registry] })
  readonly received = new Counter({ name: 'silk_owner_received_nanoton_total', help: 'what the owner wallet kept from payouts, net of its receiving fee', registers: [this.registry] })
  readonly claimFees = new Counter({ name: 'silk_claim_fees_nanoton_total', help: 'what the node gas wallet spent on claims', registers: [this.registry] })
  readonly advertsDropped = new Gauge({ name: 'silk_adverts_dropped', help: 'adverts this node refused, by reason (unstaked, unregistered, wrong-key, busy… from the stake gate)', labelNames: ['reason'] as const, registers: [this.registry] })
}
