import { pino, type DestinationStream } from 'pino'

// Human-readable log lines on a terminal, JSON lines otherwise (files, pipes, log collectors).
// pino-pretty is not a dependency: this is the few lines it takes to print pino's JSON readably.

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }
const COLORS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' }
const SKIP = new Set(['level', 'time', 'msg', 'pid', 'hostname'])

/** One pino JSON line as `12:34:56 INFO  message key=value …`; a line that is not JSON is kept as it is. */
export function prettyLine (json: string, color = false): string {
  let rec: Record<string, unknown>
  try {
    rec = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json.endsWith('\n') ? json : json + '\n'
  }
  const level = typeof rec.level === 'number' ? rec.level : 30
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 19) : ''
  const name = LEVELS[level] ?? String(level)
  const label = color ? `\x1b[${COLORS[level] ?? '0'}m${name}\x1b[0m` : name
  const fields = Object.entries(rec).filter(([k]) => !SKIP.has(k)).map(([k, v]) => `${k}=${typeof v === 'string' ? (/\s/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`)
  return `${time} ${label} ${typeof rec.msg === 'string' ? rec.msg : ''}${fields.length > 0 ? '  ' + fields.join(' ') : ''}\n`
}

/** pino's destination for file descriptor `fd`: pretty lines when it is a terminal, JSON otherwise. */
export function logDestination (fd: 1 | 2 = 2, stream: NodeJS.WriteStream = fd === 1 ? process.stdout : process.stderr, color = process.env.NO_COLOR === undefined): DestinationStream {
  if (stream.isTTY !== true) return pino.destination(fd)
  return { write: (line: string) => { stream.write(prettyLine(line, color)) } }
}
