import { parseArgs } from 'node:util';
import { ConfigError, formatConfigError, loadConfigFile } from '../config/index.ts';
import { tuneGarbageCollector } from './gc-tuning.ts';
import { KEYS_HELP, keysCommand } from './keys.ts';
import { surviveClosedOutput } from './output.ts';
import { USAGE_HELP, usageCommand } from './usage.ts';

const USAGE = `switchyard: one OpenAI-compatible endpoint in front of every cloud

Usage: switchyard <command> [flags]

Commands:
  serve --config FILE [--port N] [--host H]   start the gateway
  demo [--port N]                             simulated clouds plus a gateway in front of them
  check --config FILE                         validate a configuration and list every problem
  keys create|list|revoke --config FILE ...   manage virtual keys in the configured storage
  usage --config FILE [--group-by G] ...      requests, tokens and cost per key, team, provider, model

Run \`switchyard <command> --help\` for a command's flags.
Exit codes: 0 ok, 1 runtime or configuration error, 2 usage error.`;

const COMMAND_HELP: Record<string, string> = {
  serve: `Usage: switchyard serve --config FILE [--port N] [--host H]

Starts the gateway with the configuration in FILE. Prints "listening on http://HOST:PORT" once it
accepts requests. --port and --host override server.port and server.host; --port 0 picks a free
port. SIGTERM or SIGINT drains in-flight requests for up to server.shutdownGraceMs, then exits 0.`,
  demo: `Usage: switchyard demo [--port N]

Starts seven simulated clouds (Azure OpenAI, OpenAI, AWS Bedrock, Vertex AI, the Gemini API,
Anthropic and a vLLM-style OpenAI-compatible server, each a real HTTP server speaking its native
protocol) and a gateway in front of them, and prints example keys and commands. --port sets the gateway's port (default 8787; 0 picks a free one).`,
  check: `Usage: switchyard check --config FILE

Validates FILE and prints every problem with its path, line and what was expected, then the
warnings serve logs at start (shared storage without redis: counts limits per replica, ...).
Exits 0 when the configuration is valid, 1 when it is not.`,
  keys: KEYS_HELP,
  usage: USAGE_HELP,
};

class UsageError extends Error {}

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port: expected an integer from 0 to 65535, got "${value}"`);
  return port;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
  });
  if (!values.config) throw new UsageError('serve: --config FILE is required');
  tuneGarbageCollector();
  const port = parsePort(values.port);
  const config = loadConfigFile(values.config);
  // Loaded on demand: the server is most of the CLI's start-up time, and only serve needs it.
  const { startGateway } = await import('../server/http.ts');
  const { drainOnSignal } = await import('./signals.ts');
  // startGateway logs the settings it accepts but does not act on (configuration_warning).
  const gateway = await startGateway(config, {
    ...(port === undefined ? {} : { port }),
    ...(values.host === undefined ? {} : { host: values.host }),
  });
  // Signals first, then the announcement: a supervisor may send SIGTERM the moment it reads the
  // line, and without a handler in place that SIGTERM would kill the process undrained.
  const drained = drainOnSignal(gateway);
  process.stdout.write(`listening on ${gateway.url}\n`);
  return drained;
}

async function check(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string' } } });
  if (!values.config) throw new UsageError('check: --config FILE is required');
  const config = loadConfigFile(values.config);
  process.stdout.write(
    `${values.config}: ok (${config.providers.length} providers, ${config.models.length} models, ${config.keys.length} keys)\n`,
  );
  const { configurationWarnings } = await import('../gateway/settings.ts');
  for (const note of configurationWarnings(config)) process.stderr.write(`warning: ${note}\n`);
  return 0;
}

async function demo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' } } });
  tuneGarbageCollector();
  const { runDemo } = await import('./demo.ts');
  return runDemo(parsePort(values.port) ?? 8787);
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  serve,
  demo,
  check,
  keys: keysCommand,
  usage: usageCommand,
};

/** Runs the CLI and answers its exit code. */
export async function main(argv: string[]): Promise<number> {
  surviveClosedOutput();
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`switchyard: unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${COMMAND_HELP[command]}\n`);
    return 0;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${formatConfigError(err)}\n`);
      return 1;
    }
    if (
      err instanceof UsageError ||
      (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      process.stderr.write(`switchyard ${command}: ${err.message}\n\n${COMMAND_HELP[command]}\n`);
      return 2;
    }
    process.stderr.write(`switchyard ${command}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
