import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fencedBlocks, runShell } from './docs.ts'

// The package as a user gets it: packed (which builds it), installed into an empty project from the
// tarball, then used from plain Node ESM, from TypeScript, and as the `silk` command. No loader, no
// polyfill, nothing done by hand. Dependencies come from the npm cache that `npm ci` filled.

const run = promisify(execFile)
const ROOT = new URL('..', import.meta.url).pathname
const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { name: string, version: string, exports: Record<string, unknown> }
// CUDA binaries are a separate download (npm run install:cuda); the CPU ones ship in the package
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }
/** every import specifier the package offers: `@silk-ai/silk`, `@silk-ai/silk/client`, … */
const SPECIFIERS = Object.keys(pkg.exports).filter((k) => k !== './package.json').map((k) => k === '.' ? pkg.name : `${pkg.name}/${k.slice(2)}`)

describe(`${pkg.name} installs from its tarball and works without a loader`, () => {
  let dir: string
  let project: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'silk-pack-'))
    // prepack builds dist/ with tsconfig.build.json: a tree that does not compile fails here
    await run('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, env, maxBuffer: 1 << 24 })
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!
    project = join(dir, 'consumer')
    await run('mkdir', [project])
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
    // the README's install command as written, with the tarball in place of the registry's copy
    const install = fencedBlocks(await readFile(join(ROOT, 'README.md'), 'utf8'), 'README.md').find((b) => b.code.startsWith(`npm install ${pkg.name}`))
    expect(install, 'README.md shows how to install the package').toBeDefined()
    await runShell(install!.code.replace(`npm install ${pkg.name}`, `npm install ${join(dir, tarball)}`), { cwd: project, env: { ...env, npm_config_prefer_offline: 'true' }, timeoutMs: 180_000 })
  }, 240_000)
  afterAll(async () => { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) })

  it('every export loads from plain Node ESM, with the polyfill already installed by the package', async () => {
    // the script checks Promise.withResolvers only after importing: Node 20 has none of its own
    const script = `
      delete Promise.withResolvers
      const client = await import('${pkg.name}/client')
      const out = { withResolvers: typeof Promise.withResolvers, SilkClient: typeof client.SilkClient, ProviderPool: typeof client.ProviderPool }
      for (const spec of ${JSON.stringify(SPECIFIERS)}) out[spec] = Object.keys(await import(spec)).length
      console.log(JSON.stringify(out))`
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project, env })
    const out = JSON.parse(stdout) as Record<string, unknown>
    expect(out.withResolvers).toBe('function')
    expect(out.SilkClient).toBe('function')
    expect(out.ProviderPool).toBe('function')
    expect(SPECIFIERS).toEqual(expect.arrayContaining([pkg.name, `${pkg.name}/client`, `${pkg.name}/node`, `${pkg.name}/protocol`, `${pkg.name}/contracts`, `${pkg.name}/chain`]))
    for (const spec of SPECIFIERS) expect(out[spec], spec).toBeGreaterThan(0)
  })

  it('a client starts its libp2p node and stops, and the process then exits on its own', async () => {
    // nothing here reaches the chain: start() builds the libp2p node (which calls Promise.withResolvers)
    const script = `
      delete Promise.withResolvers
      const { SilkClient, chainClient, walletFromKey, walletSender, Address } = await import('${pkg.name}/client')
      const chain = chainClient('http://127.0.0.1:9/jsonRPC')
      const wallet = walletFromKey(Buffer.alloc(32, 7))
      const client = new SilkClient({ network: 'local', chain, registry: wallet.address, wallet: { address: wallet.address, sender: walletSender(chain, wallet) }, clientKey: wallet.keyPair, discovery: false })
      await client.start()
      await client.stop()
      console.log('stopped')`
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: project, env, timeout: 30_000 })
    expect(stdout.trim()).toBe('stopped')
  })

  it('type-checks from a TypeScript project with no loader and no skipLibCheck (the declarations are complete)', async () => {
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] },
      include: ['use.ts']
    }))
    await writeFile(join(project, 'use.ts'), [
      `import { SilkClient, ProviderPool, type SilkClientOptions } from '${pkg.name}/client'`,
      `import { buildReceipt, type Receipt } from '${pkg.name}/protocol'`,
      `import { Registry } from '${pkg.name}/contracts'`,
      "const network: SilkClientOptions['network'] = 'local'",
      'export const used: unknown[] = [SilkClient, ProviderPool, Registry, network, (r: Receipt) => buildReceipt(r)]',
      // a wrong type must be caught, or the check proves nothing
      "// @ts-expect-error a network that does not exist\nexport const wrong: SilkClientOptions['network'] = 'testnett'"
    ].join('\n'))
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, env })
  })

  it('the silk command runs from the installed package: --help lists the commands, --version the package version', async () => {
    const bin = join(project, 'node_modules/.bin/silk')
    const help = await run(bin, ['--help'], { cwd: project, env })
    expect(help.stdout).toMatch(/Usage: silk/)
    expect(help.stdout).toMatch(/\bnode\b/)
    expect(help.stdout).toMatch(/\bgateway\b/)
    const version = await run(bin, ['--version'], { cwd: project, env })
    expect(version.stdout.trim()).toBe(pkg.version)
    // npx finds the installed bin, not the unrelated `silk` on the registry
    const npx = await run('npx', ['--no-install', 'silk', '--version'], { cwd: project, env })
    expect(npx.stdout.trim()).toBe(pkg.version)
  })

  it('`silk node init` from the installed package serves the bundled example models by default', async () => {
    const zero = 'EQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAM9c'
    const nodeDir = join(dir, 'node')
    await run(join(project, 'node_modules/.bin/silk'), ['node', 'init', '--dir', nodeDir, '--owner', zero, '--registry', zero, '--endpoint', 'http://127.0.0.1:9/jsonRPC', '--network', 'local'], { cwd: project, env })
    const config = JSON.parse(await readFile(join(nodeDir, 'config.json'), 'utf8')) as { modelsDir: string }
    expect(config.modelsDir).toBe(join(project, 'node_modules', pkg.name, 'models'))
    expect(await readdir(config.modelsDir)).toEqual(expect.arrayContaining(['mlp', 'tiny-chat', 'tiny-moderation']))
  })
})
