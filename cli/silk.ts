import { readFileSync } from 'node:fs'
import { Command, CommanderError, Option } from 'commander'
import { address, endpointUrl, int, listenAddr, network, tonAmount, walletKind } from './args.ts'

// The `silk` command. Only commander and the argument checks load up front: each command's module
// (and with it @ton/*, libp2p, onnxruntime) is imported when that command runs, so `silk --help`
// and `silk --version` start fast. This is the only place that reads argv; the command modules
// read the environment (mnemonics, tokens).

/** The package version, from the nearest package.json above this file (sources or a build). */
export function packageVersion (): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version?: string, bin?: unknown }
      if (typeof pkg.version === 'string' && pkg.bin !== undefined) return pkg.version
    } catch {}
  }
  return '0.0.0'
}

const MNEMONIC_FILE_HELP = 'file holding the 24 words (mode 0600; see `silk wallet new`)'
const WALLET_HELP = 'wallet contract of the mnemonic: v4 (V4R2) or w5 (W5/V5R1, Tonkeeper\'s default); detected when not given'

/**
 * The whole command tree. exitOverride: commander throws a CommanderError instead of exiting, so
 * tests and embedders can drive it; `main` turns those into exit codes.
 */
export function createProgram (): Command {
  const program = new Command('silk')
    .description('Silk: private, verifiable AI inference paid in Toncoin')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()

  const devnet = program.command('devnet').description('a local TON chain for development: serve one, or ask its faucet')
  devnet.command('start', { isDefault: true })
    .description('serve a local TON chain (TON HTTP API, faucet and explorer) from @ton/sandbox (the default: `silk devnet` = `silk devnet start`)')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--port <port>', 'port (0 picks one)', int, 8081)
    .option('--instant', 'deliver whole message cascades at once instead of hop by hop', false)
    .action(async (o) => { await (await import('./devnet-commands.ts')).serveDevnet(o) })
  devnet.command('faucet')
    .description('send TON from the local devnet\'s faucet to an address (local network only)')
    .argument('<address>', 'recipient (any address form)', address)
    .argument('<amount>', 'TON to send, e.g. 5 or 0.5', tonAmount)
    .option('--endpoint <url>', 'the devnet (its base URL or its JSON-RPC endpoint)', endpointUrl, 'http://127.0.0.1:8081')
    .action(async (to: string, amount: string, o) => { await (await import('./devnet-commands.ts')).askFaucet(to, amount, o) })

  const wallet = program.command('wallet').description('create and inspect wallets (V4R2 or W5) kept as mnemonic files')
  wallet.command('new')
    .description('create a wallet: writes its 24 words to a new file (mode 0600) and prints its address; the words are never printed')
    .requiredOption('--file <file>', 'where to save the mnemonic (refuses to overwrite)')
    .addOption(new Option('--network <network>', 'local | testnet | mainnet (a W5 address depends on it)').argParser(network).makeOptionMandatory())
    .addOption(new Option('--wallet <kind>', 'v4 or w5').argParser(walletKind).default('w5'))
    .action(async (o) => { await (await import('./wallet-commands.ts')).walletNew(o) })
  wallet.command('show')
    .description('print the address of the wallet in a mnemonic file (or SILK_MNEMONIC)')
    .option('--file <file>', MNEMONIC_FILE_HELP)
    .addOption(new Option('--network <network>', 'local | testnet | mainnet').argParser(network).makeOptionMandatory())
    .addOption(new Option('--wallet <kind>', 'v4 or w5; without it both addresses are printed').argParser(walletKind))
    .action(async (o) => { await (await import('./wallet-commands.ts')).walletShow(o) })
  wallet.command('balance')
    .description('the balance and state of a wallet: an address, or the wallet in a mnemonic file')
    .argument('[address]', 'any address form', address)
    .option('--file <file>', MNEMONIC_FILE_HELP)
    .addOption(new Option('--network <network>', 'local | testnet | mainnet').argParser(network).makeOptionMandatory())
    .requiredOption('--endpoint <url>', 'TON HTTP API JSON-RPC endpoint', endpointUrl)
    .option('--api-key <key>', 'API key for the endpoint')
    .addOption(new Option('--wallet <kind>', WALLET_HELP).argParser(walletKind))
    .action(async (addr: string | undefined, o) => { await (await import('./wallet-commands.ts')).walletBalance(addr, o) })

  program.command('deploy')
    .description('deploy the Registry from a wallet (mnemonic in --mnemonic-file or SILK_MNEMONIC)')
    .requiredOption('--endpoint <url>', 'TON HTTP API JSON-RPC endpoint', endpointUrl)
    .addOption(new Option('--network <network>', 'local | testnet | mainnet (no default: signatures are valid on one network only)').argParser(network).makeOptionMandatory())
    .option('--api-key <key>', 'API key for the endpoint')
    .option('--mnemonic-file <file>', MNEMONIC_FILE_HELP)
    .addOption(new Option('--wallet <kind>', WALLET_HELP).argParser(walletKind))
    .option('--fee-bps <n>', 'protocol fee in basis points', int, 250)
    .option('--min-stake <ton>', 'minimum provider stake in TON', tonAmount, '10')
    .option('--close-delay <seconds>', 'channel close delay', int, 86_400)
    .option('--faucet', 'local network only: fund the deployer from the devnet faucet first', false)
    .action(async (o) => { await (await import('./deploy-command.ts')).deploy(o) })

  const node = program.command('node').description('run a provider node')
  node.command('init')
    .description('create a node key (mode 0600) and a config file; every argument is checked before anything is written')
    .requiredOption('--dir <dir>', 'folder for the key, config and data')
    .requiredOption('--owner <address>', 'wallet that owns the node, stakes and receives payouts', address)
    .requiredOption('--registry <address>', 'Silk Registry contract', address)
    .requiredOption('--endpoint <url>', 'TON HTTP API JSON-RPC endpoint', endpointUrl)
    .addOption(new Option('--network <network>', 'local | testnet | mainnet (no default: signatures are valid on one network only)').argParser(network).makeOptionMandatory())
    .option('--models <dir>', 'models folder (default: the example models bundled with Silk)')
    .option('--listen <multiaddr>', 'libp2p listen address', listenAddr, '/ip4/0.0.0.0/tcp/4001')
    .option('--claim-threshold <ton>', 'claim once a channel owes this much TON (never below the economic minimum: 1.02 TON while fees may take 1 %)', tonAmount, '1')
    .option('--bootstrap <multiaddr...>', 'peers to join the Silk network through (…/p2p/<id>)', [])
    .option('--admin-port <port>', 'loopback admin endpoint port (/health, /status, POST /claim)', int, 4002)
    .action(async (o) => { await (await import('./node-commands.ts')).init(o) })
  node.command('register')
    .description('stake for this node from the owner wallet (mnemonic in --mnemonic-file or SILK_OWNER_MNEMONIC); checks the minimum stake and the balance first')
    .requiredOption('--config <file>', 'node config')
    .requiredOption('--stake <ton>', 'stake in TON', tonAmount)
    .option('--mnemonic-file <file>', MNEMONIC_FILE_HELP)
    .addOption(new Option('--wallet <kind>', WALLET_HELP).argParser(walletKind))
    .action(async (o) => { await (await import('./node-commands.ts')).register(o) })
  node.command('doctor')
    .description('check everything the node needs: chain, registry, stake, gas wallet, models, ports (one line each)')
    .requiredOption('--config <file>', 'node config')
    .action(async (o) => { await (await import('./node-commands.ts')).doctor(o) })
  node.command('start')
    .description('start the provider node (after the doctor\'s checks: it refuses to start on a failed one, and warns about an unfunded gas wallet)')
    .requiredOption('--config <file>', 'node config')
    .option('--skip-checks', 'start without the doctor\'s chain checks (e.g. while the chain is down)', false)
    .action(async (o) => { await (await import('./node-commands.ts')).start(o) })
  node.command('status')
    .description('what the node is: addresses, stake, gas balance, models, what it earned, claimed and what the owner received')
    .requiredOption('--config <file>', 'node config')
    .action(async (o) => { await (await import('./node-commands.ts')).status(o) })
  node.command('claim')
    .description('claim every channel now (asks the running node through its admin endpoint); exits non-zero when the claim fails')
    .requiredOption('--config <file>', 'node config')
    .action(async (o) => { await (await import('./node-commands.ts')).claim(o) })

  program.command('gateway')
    .description('serve the OpenAI API (models, chat completions, moderations) from Silk providers, paid from the wallet in --mnemonic-file or SILK_CLIENT_MNEMONIC; bearer keys in SILK_GATEWAY_API_KEYS (comma-separated)')
    .requiredOption('--config <file>', 'gateway config (see gateway/README.md)')
    .option('--port <port>', 'port to serve on, overriding the config (0 picks one)', int)
    .option('--mnemonic-file <file>', MNEMONIC_FILE_HELP)
    .addOption(new Option('--wallet <kind>', WALLET_HELP).argParser(walletKind))
    .action(async (o) => { await (await import('./gateway-command.ts')).gateway(o) })

  program.command('payouts')
    .description('what the owner received from each claim (net of the protocol fee and its own receiving fee), with the claim and the owner\'s transaction')
    .requiredOption('--config <file>', 'node config')
    .action(async (o) => { await (await import('./node-commands.ts')).payouts(o) })

  return program
}

/** Runs the command line; resolves to the exit code (servers keep the process alive after it). */
export async function main (argv: string[] = process.argv): Promise<number> {
  const program = createProgram()
  try {
    await program.parseAsync(argv)
    return 0
  } catch (err) {
    // help, version and usage errors: commander already printed what it had to say
    if (err instanceof CommanderError) return err.exitCode
    const e = err as Error
    process.stderr.write(`silk: ${e.name === 'Error' || e.name === undefined ? '' : e.name + ': '}${e.message}\n`)
    return 1
  }
}
