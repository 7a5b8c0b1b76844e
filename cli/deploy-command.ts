import { chainClient, deployRegistry, faucet } from '../chain/index.ts'
import { Fees } from '../contracts/index.ts'
import { globalIdOf } from '../protocol/cells.ts'
import { nanoOf, type NetworkName, type WalletKind } from './args.ts'
import { CliError, mnemonicWords, out, pickWallet, shown } from './common.ts'

// `silk deploy`: a Registry for one network.

export async function deploy (o: { endpoint: string, network: NetworkName, apiKey?: string, mnemonicFile?: string, wallet?: WalletKind, feeBps: number, minStake: string, closeDelay: number, faucet: boolean }): Promise<void> {
  if (o.faucet && o.network !== 'local') throw new CliError('BAD_ARGUMENT', '--faucet exists only on the local network')
  const chain = chainClient(o.endpoint, o.apiKey)
  const words = await mnemonicWords(o.mnemonicFile, 'SILK_MNEMONIC')
  // with the faucet the wallet is new: V4R2 unless told otherwise (as before W5 support)
  const deployer = await pickWallet(words, o.network, o.faucet ? { kind: o.wallet ?? 'v4', source: 'the deployer mnemonic' } : { kind: o.wallet, chain, source: o.mnemonicFile ?? 'SILK_MNEMONIC' })
  if (o.faucet) {
    // the Registry keeps Fees.registryStorageReserve for good; the rest pays the deploy
    await faucet(o.endpoint, deployer.address, Fees.registryStorageReserve + 1_000_000_000n)
  }
  const registry = await deployRegistry(chain, deployer, { globalId: globalIdOf(o.network), feeBps: o.feeBps, minStake: nanoOf(o.minStake), closeDelay: o.closeDelay })
  out(`registry: ${shown(registry.address, o.network, 'contract')}`)
}
