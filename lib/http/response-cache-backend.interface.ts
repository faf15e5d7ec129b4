/** One purge, for one scope: tenant-qualified surrogate keys and the tags they stand for. */
export interface PurgeRequest {
  /** Surrogate keys to purge (tenant-qualified hashes, see `surrogateKeyFor`). */
  readonly keys: readonly string[];
  /** The tenant whose entries they are; `undefined` for the shared scope. */
  readonly tenant: string | undefined;
  /** The tags as the application named them (`v:` prefix for versioned tags), for logs. */
  readonly tags: readonly string[];
  /**
   * A soft invalidation (`invalidateTag(tag, { soft: true })`): a backend that can marks the objects
   * stale instead of removing them (Fastly's soft purge); the others purge.
   */
  readonly soft?: boolean;
}

/** The response header that carries surrogate keys to a CDN, and how keys are joined in it. */
export interface SurrogateHeader {
  readonly name: string;
  readonly separator: ' ' | ',';
}

/**
 * Where cached responses live besides our stores: a CDN (Fastly, Cloudflare) or several. The built-in
 * backend, `store`, is our own stores and needs no definition. A backend is told to purge after a tag
 * or a whole tenant was invalidated locally; a failure is logged, never raised to the caller.
 */
export interface ResponseCacheBackend {
  /** Short name used in logs and errors, e.g. `fastly`. */
  readonly kind: string;
  /** The header this CDN reads surrogate keys from; none for backends that need no header. */
  readonly surrogateHeaders: readonly SurrogateHeader[];
  /** Purges the keys; rejects with `CdnPurgeFailedError` when the CDN refuses or does not answer. */
  purge(request: PurgeRequest): Promise<void>;
}

/** A credential given as a value or read when needed (rotating secrets). */
export type Credential = string | (() => string | Promise<string>);
