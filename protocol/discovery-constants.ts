/** gossipsub topic every node and discovering client subscribes to; carries SignedAdvert bytes */
export const ADVERT_TOPIC = '/silk/adverts/1.0.0'

/** request/response: AdvertRequest → AdvertResponse on a fresh stream, one length-prefixed message each way */
export const ADVERT_PROTOCOL = '/silk/advert/1.0.0'

/** Silk's own Kademlia DHT, so provider records never mix with the public IPFS DHT */
export const DHT_PROTOCOL = '/silk/kad/1.0.0'

/** Prefix of the bytes an advert signature covers, so it can never be read as another signed object */
export const ADVERT_SIGNING_DOMAIN = 'silk-advert:'

export const ADVERT_LIMITS = {
  /** a whole SignedAdvert, as gossiped */
  maxAdvertBytes: 16 * 1024,
  maxModels: 64,
  maxNameBytes: 128,
  maxTaskBytes: 64,
  /** the pinned execution path string of a model */
  maxExecutionBytes: 128,
  maxTeeBytes: 64,
  /** TON addresses: 48 characters user-friendly, 66 raw */
  maxAddressChars: 80,
  maxAddrs: 16,
  maxAddrBytes: 256,
  /** longest accepted lifetime of an advert; a longer expiry is malformed */
  maxTtlSeconds: 24 * 3600,
  /** how far a sender's clock may run ahead before its adverts look too long-lived */
  clockSkewSeconds: 60,
  /** an AdvertResponse: adverts and bytes */
  maxResponseAdverts: 256,
  maxResponseBytes: 1024 * 1024,
  maxRequestBytes: 64
} as const

export const DISCOVERY_DEFAULTS = {
  /** seconds an advert lives; a node that stops publishing disappears after this */
  advertTtlSeconds: 30 * 60,
  /** republish every third of the lifetime, so two lost refreshes in a row still leave no gap */
  refreshFraction: 1 / 3,
  /** one advert request on a fresh stream (dial included) */
  fetchTimeoutMs: 10_000,
  /** how many newly identified peers a book asks for the adverts they know after it starts */
  catchUpPeers: 3,
  /** how often expired adverts are dropped from a table */
  pruneIntervalMs: 1_000,
  /** peers kept in a table; more are ignored until some expire (each one is a staked Provider) */
  maxTablePeers: 10_000,
  /** how often a publisher checks whether its DHT provider records should be spread again */
  provideCheckMs: 2_000,
  /** connections below which a host dials its bootstrap peers again (and peers mDNS reports) */
  keepConnectedBelow: 3,
  keepIntervalMs: 5_000
} as const

/**
 * The stake gate in front of every advert table: an advert is kept (and relayed) only when the
 * Provider it names has stake on chain. Chain reads are lazy, cached and bounded, so throwaway
 * keys cost a flooder more than the node: each needs a chain read the node rate-limits per source.
 */
export const STAKE_GATE_DEFAULTS = {
  /** how long a Provider found staked stays trusted before it is read again */
  stakedTtlSeconds: 10 * 60,
  /** how long a Provider found unstaked (or unreadable) is refused without a new read */
  unstakedTtlSeconds: 60,
  /** chain reads in flight at once, over all sources; more adverts are ignored until some finish */
  maxLookups: 32,
  /** chain reads in flight at once for adverts from one source peer */
  maxLookupsPerSource: 4,
  /** adverts waiting for a read slot, over all sources (an honest relay forwards bursts); more are ignored */
  maxWaiting: 512,
  /** adverts from one source waiting for a read slot */
  maxWaitingPerSource: 64,
  /** cached unstaked verdicts (the flood's own entries; oldest go first) */
  maxUnstaked: 4096,
  /** cached staked verdicts (each costs a real stake, so this bound is reached only by a huge network) */
  maxStaked: 20_000
} as const
