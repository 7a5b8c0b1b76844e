import { Cell } from '@ton/core'
import registryBuild from './build/Registry.json' with { type: 'json' }
import providerBuild from './build/Provider.json' with { type: 'json' }
import channelBuild from './build/Channel.json' with { type: 'json' }

// Contract code from the committed build (npm run build:contracts); no compiler at run time.

function codeFrom (name: string, build: { hash: string, boc: string }): Cell {
  const cell = Cell.fromBoc(Buffer.from(build.boc, 'base64'))[0]
  if (cell === undefined || cell.hash().toString('hex') !== build.hash) {
    throw new Error(`contracts/build/${name}.json is corrupt: code hash does not match`)
  }
  return cell
}

export const registryCode: Cell = codeFrom('Registry', registryBuild)
export const providerCode: Cell = codeFrom('Provider', providerBuild)
export const channelCode: Cell = codeFrom('Channel', channelBuild)
