import { beginCell, Dictionary, type Cell } from '@ton/core'

// The network a chain is: TON global_id in config param 19. The contracts compare every signed
// record's global_id with it (TVM GLOBALID), so a sandbox or a local chain must state its own.

const configDict = (config: Cell): Dictionary<number, Cell> =>
  Dictionary.loadDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell(), config)

/** config param 19 (global_id) of a config dictionary (what @ton/sandbox's blockchain.config returns). */
export function globalIdOfConfig (config: Cell): number {
  const param = configDict(config).get(19)
  if (param === undefined) throw new Error('config has no param 19 (global_id)')
  return param.beginParse().loadInt(32)
}

/** The same config dictionary with param 19 set to `globalId`. */
export function configWithGlobalId (config: Cell, globalId: number): Cell {
  if (!Number.isInteger(globalId) || globalId < -(2 ** 31) || globalId >= 2 ** 31) throw new RangeError('globalId must be an int32')
  const dict = configDict(config)
  dict.set(19, beginCell().storeInt(globalId, 32).endCell())
  return beginCell().storeDictDirect(dict).endCell()
}
