/** Runs the built `secrets-broker` command as a process, with stdin from a buffer and stdout as a pipe. */
import { type ChildProcess, spawn } from 'node:child_process';
import { MAIN } from '../helpers/broker-process.js';

export interface CliResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string>;
  /** Written to stdin, which is then closed; stdin is empty when absent. */
  input?: string | Buffer;
}

export interface RunningCli {
  child: ChildProcess;
  /** What the process has written to stdout so far. */
  stdoutSoFar(): string;
  result: Promise<CliResult>;
}

export function startCli(args: string[], options: CliOptions): RunningCli {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  child.stdin?.end(options.input ?? '');
  const result = new Promise<CliResult>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout: Buffer.concat(stdout), stderr })),
  );
  return { child, stdoutSoFar: () => Buffer.concat(stdout).toString('utf8'), result };
}

export function runCli(args: string[], options: CliOptions): Promise<CliResult> {
  return startCli(args, options).result;
}
