import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { toNano } from '@ton/core'
import { float32Tensor, ProviderPool, ProviderRejectedError } from '../client/index.ts'
import { ConfigError, parseNodeConfig } from '../node/config.ts'
import OpenAI from 'openai'
import { pino } from 'pino'
import { launchGateway, parseGatewayConfig } from '../gateway/index.ts'
import { startLocalNet, type LocalNet } from './localnet.ts'

const x = float32Tensor('x', [1, 64], new Array(64).fill(0.1))

describe('the confidential tier through the whole stack (development attestation on the local chain)', () => {
  let net: LocalNet
  let attested: string
  let plain: string
  beforeAll(async () => {
    net = await startLocalNet()
    attested = (await net.addNode({ config: { tee: { kind: 'dev' } } })).node.addresses[0]!.toString()
    plain = (await net.addNode()).node.addresses[0]!.toString()
  })
  afterAll(async () => { await net?.close() })

  it("tee: 'required' accepts an attested node and every result says which tier served it", async () => {
    const { client } = await net.addClient(toNano('5'), { tee: 'required' })
    const provider = await client.connect(attested)
    expect(provider.tee.tier).toBe('dev')
    await client.openChannel(provider, toNano('0.5'))
    const res = await provider.session.run('mlp-64-10', [x])
    expect(res.tier).toBe('dev')
    await provider.session.close()
  })

  it('the attested node advertises its TEE kind and the hash of the evidence it serves', async () => {
    const { client } = await net.addClient(toNano('1'), { tee: 'required', discovery: { bootstrap: [attested] } })
    const [advert] = (await client.findProviders('mlp-64-10', { signal: AbortSignal.timeout(20_000), min: 2 })).filter((a) => a.tee === 'dev')
    expect(advert).toBeDefined()
    expect(advert!.teeEvidence).toHaveLength(32)
  })

  it("tee: 'required' refuses a node without attestation; 'preferred' takes it at tier none", async () => {
    const { client: strict } = await net.addClient(toNano('1'), { tee: 'required' })
    const err = await strict.connect(plain).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ProviderRejectedError)
    expect((err as ProviderRejectedError).reason).toBe('TEE_REQUIRED')
    const { client: easy } = await net.addClient(toNano('1'), { tee: 'preferred' })
    const p = await easy.connect(plain)
    expect(p.tee.tier).toBe('none')
    await p.session.close()
  })

  it('provider selection honours the policy: attested first when preferred, unattested skipped when required', async () => {
    const { client } = await net.addClient(toNano('3'), { tee: 'preferred' })
    const candidates = async () => [{ address: plain, tee: 'none' }, { address: attested, tee: 'dev' }]
    const preferred = new ProviderPool(client, { candidates, deposit: toNano('0.2'), tee: 'preferred' })
    const res = await preferred.run('mlp-64-10', [x])
    expect(res.address).toBe(attested)
    expect(res.tier).toBe('dev')
    expect((await preferred.ranked('mlp-64-10')).map((e) => e.address)).toEqual([attested, plain])
    const required = new ProviderPool(client, { candidates, deposit: toNano('0.2'), tee: 'required' })
    expect((await required.ranked('mlp-64-10')).map((e) => e.address)).toEqual([attested])
    await preferred.close()
    await required.close()
  })

  it("the gateway with tee 'required' answers from the attested node, says so, and refuses to use an unattested one", async () => {
    const { wallet } = await net.addClient(toNano('3'))
    const base = { chain: { network: 'local', endpoint: net.devnet.endpoint, registry: net.registry.toString() }, deposit: '100000000', port: 0, tee: 'required' }
    const good = await launchGateway(parseGatewayConfig({ ...base, providers: [attested] }), { wallet, apiKeys: [] }, pino({ level: 'silent' }))
    try {
      const api = new OpenAI({ baseURL: `${good.url}/v1`, apiKey: 'x', maxRetries: 0 })
      const r = await api.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })
      expect((r as unknown as { silk: { tier: string } }).silk.tier).toBe('dev')
    } finally {
      await good.close()
    }
    const bad = await launchGateway(parseGatewayConfig({ ...base, providers: [plain], models: [{ id: 'tiny-chat', task: 'text-generation' }] }), { wallet, apiKeys: [] }, pino({ level: 'silent' }))
    try {
      const api = new OpenAI({ baseURL: `${bad.url}/v1`, apiKey: 'x', maxRetries: 0 })
      const err = await api.chat.completions.create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }).catch((e: unknown) => e)
      expect((err as { status?: number }).status).toBeGreaterThanOrEqual(500)
    } finally {
      await bad.close()
    }
  })

  it('a development attestation is refused off the local chain, by clients and by node config', async () => {
    const { client } = await net.addClient(toNano('1'), { tee: 'required', network: 'testnet' })
    const err = await client.connect(attested).catch((e: unknown) => e)
    expect((err as ProviderRejectedError).reason).toBe('TEE_REQUIRED')
    expect((err as Error).message).toMatch(/development|dev/i)
    expect(() => parseNodeConfig({
      keyFile: 'k', providerOwner: '0:' + '11'.repeat(32), modelsDir: 'm', dataDir: 'd', tee: { kind: 'dev' },
      chain: { network: 'testnet', endpoint: 'http://127.0.0.1:1/jsonRPC', registry: '0:' + '22'.repeat(32) }
    }, '/tmp')).toThrow(ConfigError)
  })
})
