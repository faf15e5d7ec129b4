export {
  type CodecOptions,
  type CodecCallOptions,
  type CompressionOptions,
  type CompressionAlgorithm,
  type EncryptionOptions,
  validateCodecCallOptions,
} from './codec.options.js';
export type { MemoizeIterableOptions } from './memoize-iterable.js';
export type { TenantKeyStore } from './tenant-data-keys.js';
