// Runs the compiled `quorumkv` as a user would (node dist/src/main.js ...), with stdin piped in, and
// gives back its exit code and output. Bounded in time: a command that hangs is killed and fails.

import { spawn } from 'node:child_process';
import { compiledMain, projectRoot } from '../client/localCluster.js';

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  readonly input?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** Sends SIGINT (Ctrl-C) once the output so far passes this test: for commands that run until stopped. */
  readonly interruptWhen?: (stdout: string) => boolean;
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    // No history file from tests, no colours, and no cluster address from the caller's shell.
    const env: NodeJS.ProcessEnv = { ...process.env, QUORUMKV_HISTORY: '', NO_COLOR: '1' };
    delete env.QUORUMKV_URL;
    delete env.QUORUMKV_TOKEN;
    delete env.QUORUMKV_ADMIN_TOKEN;
    const child = spawn(process.execPath, [compiledMain, ...args], {
      cwd: projectRoot,
      env: { ...env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!interrupted && options.interruptWhen?.(stdout)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timeoutMs = options.timeoutMs ?? 90_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`quorumkv ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}
