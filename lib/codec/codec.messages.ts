/** Log texts of the codec layer. */
export const chunkCleanupFailed = (store: string, count: number, error: Error): string =>
  `Cache store "${store}" failed to remove ${count} chunk(s) (they expire with their TTL, or go with clear()): ${error.message}`;
