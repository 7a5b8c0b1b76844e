export * from './errors.ts'
export * from './tensor.ts'
export * from './cells.ts'
