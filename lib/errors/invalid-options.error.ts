import { TenantCacheErrorCode } from './error-codes.js';
import { TenantCacheError } from './tenant-cache.error.js';

/** One wrong option: its path (`tenant.maxLength`), what is wrong with it, and what to write instead. */
export interface InvalidOption {
  readonly option: string;
  readonly problem: string;
  readonly fix: string;
}

/**
 * Module or decorator options are wrong; raised at start-up with what to change. `problems` lists every
 * wrong option found (start-up reports them all at once); `option` is the first one's path.
 */
export class InvalidOptionsError extends TenantCacheError {
  /** Path of the (first) wrong option, e.g. `defaultTtl` or `tenant.maxLength`. */
  readonly option: string;
  /** Every wrong option found, in the order they were checked. */
  readonly problems: readonly InvalidOption[];

  constructor(option: string, problem: string, fix: string);
  constructor(problems: readonly InvalidOption[]);
  constructor(optionOrProblems: string | readonly InvalidOption[], problem = '', fix = '') {
    const problems: readonly InvalidOption[] = typeof optionOrProblems === 'string' ? [{ option: optionOrProblems, problem, fix }] : Object.freeze([...optionOrProblems]);
    super(TenantCacheErrorCode.InvalidOptions, message(problems));
    this.option = problems[0]?.option ?? '';
    this.problems = problems;
  }
}

const line = (p: InvalidOption): string => `option "${p.option}" ${p.problem}.${p.fix ? ` ${p.fix}` : ''}`;

function message(problems: readonly InvalidOption[]): string {
  if (problems.length === 1) return `TenantCacheModule ${line(problems[0]!)}`;
  return `TenantCacheModule options have ${problems.length} problems:\n${problems.map((p) => `  - ${line(p)}`).join('\n')}`;
}
