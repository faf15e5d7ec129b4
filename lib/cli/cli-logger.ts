import type { LoggerService } from '@nestjs/common';

/**
 * The CLI's logger for Nest and the library: errors only, one line each, on stderr. Standard output carries
 * the command's answer alone (`--json` stays parseable), and a failing store is told once, by the command's
 * own line, rather than by the warnings a long-running application logs (reconnecting in the background...).
 */
export function cliLogger(err: (line: string) => void): LoggerService {
  const ignore = () => undefined;
  return {
    log: ignore,
    warn: ignore,
    debug: ignore,
    verbose: ignore,
    fatal: (message: unknown) => err(String(message)),
    error: (message: unknown) => err(String(message)),
  };
}
