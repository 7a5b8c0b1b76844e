import type { Address, Sender } from '@ton/core'
import type { TonClient } from '@ton/ton'
import { Channel, type ChannelData } from '../contracts/index.ts'
import { AbortError, ChannelError } from './errors.ts'

// The client's side of a channel's life on chain: top up, start and finish closing.

const POLL_MS = 250

export async function readChannel (chain: TonClient, address: Address): Promise<ChannelData | undefined> {
  try {
    return await chain.open(Channel.createFromAddress(address)).getChannelData()
  } catch {
    return undefined
  }
}

export interface WaitOptions { timeoutMs?: number, signal?: AbortSignal }

/** Polls the channel until `done` holds; AbortError when `signal` fires, ChannelError on timeout. */
export async function waitForChannel (chain: TonClient, address: Address, done: (d: ChannelData) => boolean, what: string, options: WaitOptions = {}): Promise<ChannelData> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  while (Date.now() < deadline) {
    if (options.signal?.aborted === true) throw new AbortError(`stopped waiting for ${what}`)
    const data = await readChannel(chain, address)
    if (data !== undefined && done(data)) return data
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  throw new ChannelError(`channel ${address.toString()}: ${what} did not happen in time`)
}

/** Adds `amount` to the deposit and resolves once the channel holds it. */
export async function topUpChannel (chain: TonClient, sender: Sender, address: Address, amount: bigint, options: WaitOptions = {}): Promise<ChannelData> {
  const before = await readChannel(chain, address)
  if (before === undefined || !before.initialized) throw new ChannelError('cannot top up a channel that is not open')
  if (before.closeAt !== 0 || before.closed) throw new ChannelError('cannot top up a closing or closed channel')
  await chain.open(Channel.createFromAddress(address)).sendTopUp(sender, { amount })
  return await waitForChannel(chain, address, (d) => d.deposit >= before.deposit + amount, 'the top-up', options)
}

/** Starts the close: the provider may still claim until close_at; returns close_at. */
export async function startClose (chain: TonClient, sender: Sender, address: Address, options: WaitOptions = {}): Promise<number> {
  await chain.open(Channel.createFromAddress(address)).sendStartClose(sender)
  return (await waitForChannel(chain, address, (d) => d.closeAt !== 0, 'start of the close', options)).closeAt
}

/**
 * Finishes the close after close_at: the rest of the deposit comes back to the client wallet and
 * the channel's account is destroyed (a later nonce opens a new one). Resolves once it is gone.
 */
export async function finishClose (chain: TonClient, sender: Sender, address: Address, options: WaitOptions = {}): Promise<void> {
  const wallet = sender.address
  // the refund lands in the client's wallet one hop after the channel closes: resolve once it has
  const seen = wallet !== undefined ? await refundsFrom(chain, wallet, address) : 0
  await chain.open(Channel.createFromAddress(address)).sendFinishClose(sender)
  const deadline = Date.now() + (options.timeoutMs ?? 60_000)
  let closed = false
  while (Date.now() < deadline) {
    if (options.signal?.aborted === true) throw new AbortError('stopped waiting for the close')
    if (!closed) {
      const state = await chain.getContractState(address).catch(() => undefined)
      closed = (state !== undefined && state.state !== 'active') || (state !== undefined && (await readChannel(chain, address))?.closed === true)
    }
    if (closed && (wallet === undefined || await refundsFrom(chain, wallet, address) > seen)) return
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  throw new ChannelError(`channel ${address.toString()}: the close did not happen in time`)
}

/** How many of the wallet's recent transactions came from the channel (its refunds). */
async function refundsFrom (chain: TonClient, wallet: Address, channel: Address): Promise<number> {
  const txs = await chain.getTransactions(wallet, { limit: 20 }).catch(() => [])
  return txs.filter((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.src.equals(channel)).length
}
