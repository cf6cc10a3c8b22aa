/**
 * The process logger: pino, one JSON line per event. Redaction is a second line of defence: no
 * code logs a value or a token on purpose, and these paths censor one if it ever slips in.
 */
import { type Logger, pino } from 'pino';

export const REDACTED_PATHS = [
  'value',
  '*.value',
  'record.value',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'body',
  '*.body',
  'secret',
  '*.secret',
  'key',
  '*.key',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'secrets-broker' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
