/** The Lua scripts of the Redis store. */

// NOTE: scripts touch only the key they declare (cluster-safe).
// The TTL applies only when this call created the key (an existing counter without expiry keeps none).
export const INCR_WITH_TTL = `local existed = redis.call('EXISTS', KEYS[1])
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v`;
// Adds members and keeps the index alive at least as long as its longest-lived entry (0 = no expiry).
export const SADD_KEEP_LONGEST = `local existed = redis.call('EXISTS', KEYS[1])
redis.call('SADD', KEYS[1], unpack(ARGV, 2))
local ttl = tonumber(ARGV[1])
if ttl == 0 then redis.call('PERSIST', KEYS[1])
elseif existed == 0 then redis.call('PEXPIRE', KEYS[1], ttl)
else redis.call('PEXPIRE', KEYS[1], ttl, 'GT') end
return 1`;

// Cluster-wide single-flight. Taking a lease answers the holder's remaining ms when it is taken (a waiter's
// wake-up bound when no release message comes); a release always publishes, so waiters re-check even after a
// revoked or expired lease.
export const TAKE_LEASE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local left = redis.call('PTTL', KEYS[1])
if left < 1 then return 1 end
return left`;
export const RENEW_LEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
export const RELEASE_LEASE = `local held = 0
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) held = 1 end
redis.call('PUBLISH', ARGV[2], KEYS[1])
return held`;
