import { Address } from '@ton/core'
import type { Logger } from 'pino'
import { chainClient, shown, walletSender, type AnyKeyWallet } from '../chain/index.ts'
import type { TonClient } from '@ton/ton'
import { ChannelError, discoveredCandidates, ProviderPool, SilkClient, SilkError, type Candidate } from '../client/index.ts'
import { Fees } from '../contracts/index.ts'
import type { GatewayConfig } from './config.ts'
import { GatewayError, WalletUnfundedError } from './errors.ts'
import { startGateway, type Gateway, type GatewayModel, type GatewayPool } from './server.ts'

export interface GatewaySecrets {
  /** the client wallet: opens and funds channels, signs vouchers */
  wallet: AnyKeyWallet
  apiKeys?: readonly string[]
}

/**
 * Everything `silk gateway` runs: a Silk client on the configured chain, a provider pool (fixed
 * providers, or discovery), and the HTTP gateway in front. `close()` stops all three.
 */
export async function launchGateway (config: GatewayConfig, secrets: GatewaySecrets, logger: Logger): Promise<Gateway> {
  const chain = chainClient(config.chain.endpoint, config.chain.apiKey)
  const fixed = config.providers
  const client = new SilkClient({
    chain,
    registry: Address.parse(config.chain.registry),
    wallet: { address: secrets.wallet.address, sender: walletSender(chain, secrets.wallet) },
    clientKey: secrets.wallet.keyPair,
    ...(config.jobTimeoutMs !== undefined ? { timeoutMs: config.jobTimeoutMs } : {}),
    discovery: fixed.length > 0 ? false : { bootstrap: config.bootstrap },
    network: config.chain.network,
    tee: config.tee,
    ...(config.acceptedTcbStatuses !== undefined ? { attestation: { acceptedTcbStatuses: config.acceptedTcbStatuses } } : {})
  })
  await client.start()
  const pool = new ProviderPool(client, {
    candidates: async (model, signal) => fixed.length > 0 ? fixed.map((address) => ({ address })) : await discoveredCandidates(client, model, signal),
    deposit: config.deposit,
    tee: config.tee,
    ...(config.maxPricePerUnit !== undefined ? { maxPricePerUnit: config.maxPricePerUnit } : {})
  })
  const funds = new WalletFunds(chain, shown(secrets.wallet.address, config.chain.network, 'wallet'), secrets.wallet.address, config.deposit + Fees.channelDeployGas)
  const explained: GatewayPool = {
    use: async (model, work, signal) => {
      try {
        return await pool.use(model, work, signal)
      } catch (err) {
        throw await funds.explain(err)
      }
    }
  }
  try {
    const short = await funds.shortfall()
    if (short !== undefined) logger.warn({ wallet: short.wallet, balance: short.balance.toString(), needed: short.needed.toString() }, 'the gateway wallet cannot open a payment channel yet: fund it')
    const models = config.models ?? await servedBy(client, fixed, logger)
    const gateway = await startGateway({
      pool: explained,
      health: () => pool.view(),
      models: () => models,
      host: config.host,
      port: config.port,
      logger,
      moderationThreshold: config.moderationThreshold,
      defaultMaxTokens: config.defaultMaxTokens,
      maxBodyBytes: config.maxBodyBytes,
      corsOrigins: config.corsOrigins,
      spending: {
        periodMs: config.spending.periodHours * 3_600_000,
        total: config.spending.total,
        perRequest: config.spending.perRequest,
        ...(config.spending.perKey !== undefined ? { perKey: config.spending.perKey } : {})
      },
      ...(config.allowedHosts !== undefined ? { allowedHosts: config.allowedHosts } : {}),
      ...(secrets.apiKeys !== undefined && secrets.apiKeys.length > 0 ? { apiKeys: secrets.apiKeys } : {}),
      ...(config.moderationModel !== undefined ? { moderationModel: config.moderationModel } : {}),
      ...(config.jobTimeoutMs !== undefined ? { jobTimeoutMs: config.jobTimeoutMs } : {})
    })
    return {
      url: gateway.url,
      async close () {
        await gateway.close()
        await pool.close()
        await client.stop()
      }
    }
  } catch (err) {
    await pool.close()
    await client.stop()
    throw err
  }
}

/** The text models the fixed providers serve, read from their Welcome (each checked on chain). */
async function servedBy (client: SilkClient, providers: readonly string[], logger: Logger): Promise<GatewayModel[]> {
  const models = new Map<string, GatewayModel>()
  for (const address of providers) {
    try {
      const p = await client.connect(address)
      for (const m of p.session.models) {
        if (m.task === 'text-generation' || m.task === 'text-classification') models.set(m.name, { id: m.name, task: m.task })
      }
      await p.session.close()
    } catch (err) {
      logger.warn({ err, provider: address }, 'cannot read the models of a provider')
    }
  }
  if (models.size === 0) throw new Error('none of the configured providers could be reached to list its text models; list `models` in the config')
  return [...models.values()]
}

/**
 * Tells an unfunded client wallet apart from other failures: a channel that cannot be opened or
 * topped up (the chain refusing the wallet's message) becomes a WalletUnfundedError when the
 * wallet's balance is below what a channel needs. Asks the chain only after such a failure.
 */
class WalletFunds {
  constructor (private readonly chain: TonClient, private readonly shown: string, private readonly address: Address, private readonly needed: bigint) {}

  /** The wallet's shortfall now; undefined when it holds enough or the chain cannot say. */
  async shortfall (): Promise<WalletUnfundedError | undefined> {
    let balance: bigint
    try {
      balance = await this.chain.getBalance(this.address)
    } catch {
      return undefined
    }
    return balance < this.needed ? new WalletUnfundedError(this.shown, balance, this.needed) : undefined
  }

  async explain (err: unknown): Promise<unknown> {
    // typed job and provider failures are not the wallet's; channel failures and untyped chain errors may be
    const maybeWallet = err instanceof ChannelError || (!(err instanceof SilkError) && !(err instanceof GatewayError))
    if (!maybeWallet) return err
    const short = await this.shortfall()
    if (short === undefined) return err
    return new WalletUnfundedError(short.wallet, short.balance, short.needed, { cause: err })
  }
}
