import 'reflect-metadata';
import type { INestApplication, LoggerService, Type } from '@nestjs/common';
import { request as httpRequest } from 'node:http';
import { type AdapterKind, bootModule } from '../support/test-module.js';

export { ADAPTERS, type AdapterKind } from '../support/test-module.js';

/** A Nest application listening on a free loopback port. */
export interface RunningApp {
  app: INestApplication;
  url: string;
  /** Sends a real HTTP request; the body is parsed as JSON when possible. */
  call(path: string, init?: CallInit): Promise<CallResult>;
  /** Like `call`, through node:http, which (unlike fetch) sends the Host header given. */
  callWithHost(path: string, host: string): Promise<CallResult>;
  close(): Promise<void>;
}

export interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  json?: unknown;
}

export interface CallResult {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON of the app under test
  /** Response headers, lower-case names (non-enumerable: `toEqual({ status, body })` still holds). */
  headers: Record<string, string>;
  /** The body's bytes as received (non-enumerable). */
  bytes: Buffer;
}

/** A result whose headers and bytes do not take part in deep equality. */
function result(status: number, bytes: Buffer, headers: Record<string, string>): CallResult {
  const out = { status, body: parse(bytes.toString('utf8')) } as CallResult;
  Object.defineProperties(out, { headers: { value: headers, enumerable: false }, bytes: { value: bytes, enumerable: false } });
  return out;
}

/** Keeps every log line, so tests can assert what the library logged. */
export class CapturingLogger implements LoggerService {
  readonly lines: { level: string; message: string }[] = [];
  log(message: unknown) {
    this.push('log', message);
  }
  error(message: unknown) {
    this.push('error', message);
  }
  warn(message: unknown) {
    this.push('warn', message);
  }
  debug(message: unknown) {
    this.push('debug', message);
  }
  verbose(message: unknown) {
    this.push('verbose', message);
  }
  private push(level: string, message: unknown) {
    this.lines.push({ level, message: String(message) });
  }
}

/** `rootModule` on a free loopback port (booted by `bootModule`), with an HTTP client for it. */
export async function startApp(
  kind: AdapterKind,
  rootModule: Type,
  options: { logger?: LoggerService | false; setup?: (app: INestApplication) => void } = {},
): Promise<RunningApp> {
  const { app, url, close } = await bootModule({ imports: [rootModule], http: kind, ...options });
  return {
    app,
    url,
    async call(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.json !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(url + path, {
        method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
        headers,
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      return result(response.status, bytes, Object.fromEntries(response.headers));
    },
    callWithHost(path, host) {
      return new Promise<CallResult>((resolve, reject) => {
        const request = httpRequest(url + path, { headers: { host } }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const bytes = Buffer.concat(chunks);
            const headers = Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
            resolve(result(response.statusCode ?? 0, bytes, headers));
          });
        });
        request.on('error', reject);
        request.end();
      });
    },
    close,
  };
}

function parse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text; // not JSON: keep the text
  }
}

/** Resolves after 0-3 ms, or on the next turn: concurrent requests interleave at every await. */
export function jitter(): Promise<void> {
  const roll = Math.random();
  if (roll < 0.2) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => setTimeout(resolve, Math.floor(roll * 4)));
}
