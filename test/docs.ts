import { spawn, type ChildProcess } from 'node:child_process'
import { readFile, writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createInterface } from 'node:readline'
import { join } from 'node:path'

// Runs the code blocks of the Markdown docs, as they are written, against a local Silk network.
// A block's text is only changed by filling its `<placeholders>` from a table the test gives, so
// a doc that stops working fails the suite.

export const ROOT = new URL('..', import.meta.url).pathname

export interface Block { file: string, lang: string, code: string, line: number }

/** The fenced blocks of a Markdown file, in order. */
export function fencedBlocks (markdown: string, file: string): Block[] {
  const blocks: Block[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(\S*)\s*$/.exec(lines[i]!)
    if (open === null) continue
    const body: string[] = []
    let j = i + 1
    while (j < lines.length && lines[j]!.trimEnd() !== open[1]) body.push(lines[j++]!)
    if (j === lines.length) throw new Error(`${file}:${i + 1}: unclosed code block`)
    blocks.push({ file, lang: open[2]!, code: body.join('\n'), line: i + 1 })
    i = j
  }
  return blocks
}

/** A doc's blocks taken one by one; `done()` fails when a block was left unrun. */
export class DocBlocks {
  private readonly blocks: Block[]
  private readonly taken = new Set<number>()
  private constructor (readonly file: string, markdown: string) { this.blocks = fencedBlocks(markdown, file) }

  static async read (file: string): Promise<DocBlocks> {
    return DocBlocks.of(await readFile(join(ROOT, file), 'utf8'), file)
  }

  static of (markdown: string, file: string): DocBlocks {
    return new DocBlocks(file, markdown)
  }

  get count (): number { return this.blocks.length }

  /** the `index`th block (from 0), which must be a `lang` block */
  take (index: number, lang: string): Block {
    const b = this.blocks[index]
    if (b === undefined) throw new Error(`${this.file}: expected a \`${lang}\` block #${index}, found ${this.blocks.length} blocks`)
    if (b.lang !== lang) throw new Error(`${this.file}:${b.line}: expected a \`${lang}\` block, found \`${b.lang}\``)
    this.taken.add(index)
    return b
  }

  done (): void {
    const left = this.blocks.filter((_, i) => !this.taken.has(i))
    if (left.length > 0) throw new Error(`${this.file}: blocks no test runs: ${left.map((b) => `line ${b.line} (${b.lang})`).join(', ')}`)
  }
}

export type Values = Record<string, string | (() => Promise<string> | string)>

/**
 * Replaces every `<placeholder>` (and each other key of `values` found in the text) with its value;
 * a placeholder the table does not know is an error, so docs cannot grow values no test fills.
 */
export async function fill (code: string, values: Values): Promise<string> {
  let out = code
  for (const [key, value] of Object.entries(values)) {
    if (!out.includes(key)) continue
    const v = typeof value === 'function' ? await value() : value
    out = out.split(key).join(v)
  }
  const unknown = /<[a-zA-Z0-9][a-zA-Z0-9 _.-]*>/.exec(out)
  if (unknown !== null) throw new Error(`no value for the placeholder ${unknown[0]}`)
  return out
}

export interface ShellRun {
  /** stdout of each command line, in order */
  outputs: string[]
  /** the environment after the block (its `export`s) */
  env: NodeJS.ProcessEnv
  /** stops the long-running processes the block started */
  stop(): Promise<void>
}

export interface ShellOptions {
  cwd: string
  env: NodeJS.ProcessEnv
  /** commands that run until stopped (servers): started, then awaited until a stdout line matches `ready` */
  background?: RegExp
  ready?: RegExp
  /** per command, ms */
  timeoutMs?: number
  /** fills placeholders right before each command runs */
  values?: Values
  /** called with each command and its stdout before the next one runs (e.g. funding a wallet it printed) */
  after?: (command: string, stdout: string) => Promise<void>
}

/** Splits a shell block into commands: comment lines dropped, `\` continuations joined. */
export function commandsOf (code: string): string[] {
  const commands: string[] = []
  let current = ''
  for (const raw of code.split('\n')) {
    if (current === '' && (raw.trim() === '' || raw.trim().startsWith('#'))) continue
    if (raw.endsWith('\\')) { current += raw.slice(0, -1) + ' '; continue }
    commands.push(current + raw)
    current = ''
  }
  if (current !== '') commands.push(current)
  return commands
}

/**
 * Runs a shell block one command at a time in bash, like a user typing it: placeholders are filled
 * right before each command (so a value may come from an earlier command's output), `export`s carry
 * over, a failing command fails the block. Servers run in the background until they say they are ready.
 */
export async function runShell (code: string, opts: ShellOptions): Promise<ShellRun> {
  const outputs: string[] = []
  const children: ChildProcess[] = []
  let env = { ...opts.env }
  const envDir = await mkdtemp(join(tmpdir(), 'silk-docs-env-'))
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return
      const exited = new Promise((resolve) => c.once('exit', resolve))
      process.kill(-c.pid!, 'SIGTERM')
      const timer = setTimeout(() => { try { process.kill(-c.pid!, 'SIGKILL') } catch {} }, 10_000)
      await exited
      clearTimeout(timer)
    }))
  }
  try {
    for (const template of commandsOf(code)) {
      const command = await fill(template, opts.values ?? {})
      if (opts.background?.test(command) === true) {
        const child = spawn('bash', ['-c', command], { cwd: opts.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
        children.push(child)
        outputs.push(await readyLine(child, opts.ready ?? /./, command, opts.timeoutMs ?? 60_000))
        await opts.after?.(command, outputs.at(-1)!)
        continue
      }
      const envFile = join(envDir, 'env')
      const result = await exec(`${command}\nstatus=$?; env -0 > ${envFile}; exit $status`, opts.cwd, env, opts.timeoutMs ?? 120_000)
      if (result.code !== 0) throw new Error(`\`${command}\` exited with ${String(result.code)}\n${result.stdout}\n${result.stderr}`)
      outputs.push(result.stdout)
      await opts.after?.(command, result.stdout)
      env = Object.fromEntries((await readFile(envFile, 'utf8')).split('\0').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
    }
  } catch (err) {
    await stop()
    throw err
  } finally {
    await rm(envDir, { recursive: true, force: true })
  }
  return { outputs, env, stop }
}

async function exec (script: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn('bash', ['-c', script], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch {} }, timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  return { code, stdout, stderr }
}

async function readyLine (child: ChildProcess, ready: RegExp, command: string, timeoutMs: number): Promise<string> {
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  const lines = createInterface({ input: child.stdout! })
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`\`${command}\` did not print ${String(ready)} within ${timeoutMs} ms\n${stderr}`)) }, timeoutMs)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`\`${command}\` exited with ${String(code)} before it was ready\n${stderr}`)) })
    lines.on('line', (line) => {
      if (!ready.test(line)) return
      clearTimeout(timer)
      resolve(line)
    })
  })
}

/** Writes a code block to a file (a config, a script) in `dir`. */
export async function writeBlock (dir: string, name: string, code: string): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, code.endsWith('\n') ? code : code + '\n')
  return file
}
