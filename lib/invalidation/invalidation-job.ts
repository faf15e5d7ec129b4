import type { EntityChangeEvent } from './entity-change.js';

/**
 * One rule to apply to one change: plain JSON, so a queue can carry it to another process. The tenant
 * is captured when the change is published and restored (`TenantContext.run`) where the job runs.
 */
export interface InvalidationJob {
  /** The rule's stable name. */
  readonly rule: string;
  readonly entity: string;
  readonly event: EntityChangeEvent;
  readonly tenantId?: string;
  /** The row after the change (before it for a remove). */
  readonly data?: Readonly<Record<string, unknown>>;
  /** The row before an update, when known. */
  readonly previous?: Readonly<Record<string, unknown>>;
}
