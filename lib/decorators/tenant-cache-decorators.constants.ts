import { METADATA_PREFIX } from '../tenant-cache.constants.js';

/** Metadata key under which `@CacheResult` records its options on the method. */
export const CACHE_RESULT_METADATA = `${METADATA_PREFIX}cache_result`;
/** Metadata key under which `@CacheEvict` records its list of options on the method. */
export const CACHE_EVICT_METADATA = `${METADATA_PREFIX}cache_evict`;
