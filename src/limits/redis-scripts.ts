/**
 * The Lua scripts that make admission and settlement atomic in Redis: every window and every
 * budget of a request is checked and charged in one script, so two replicas can never both
 * take the last unit of a limit or a budget.
 *
 * Layout: a window is a hash `second → amount` (seconds older than a minute are deleted as they
 * are read); a budget is a hash `{spent, reserved}` in nano-dollars, with its reservations in a
 * sorted set (by expiry) and a hash (id → amount), so a crashed replica's reservations expire.
 */

/** Shared by the scripts: sum a window's last 60 seconds, deleting older seconds. */
const WINDOW_SUM = `
local function window_sum(key, now_s)
  local fields = redis.call('HGETALL', key)
  local sum = 0
  local oldest = -1
  for i = 1, #fields, 2 do
    local s = tonumber(fields[i])
    local v = tonumber(fields[i + 1])
    if s <= now_s - 60 then
      redis.call('HDEL', key, fields[i])
    elseif s <= now_s then
      sum = sum + v
      if v > 0 and (oldest == -1 or s < oldest) then oldest = s end
    end
  end
  return sum, oldest
end
`;

const EXPIRE_RESERVATIONS = `
local function expire_reservations(bkey, zkey, hkey, now_ms)
  local expired = redis.call('ZRANGEBYSCORE', zkey, '-inf', now_ms)
  for _, id in ipairs(expired) do
    local amount = tonumber(redis.call('HGET', hkey, id) or '0')
    redis.call('HINCRBY', bkey, 'reserved', -amount)
    redis.call('ZREM', zkey, id)
    redis.call('HDEL', hkey, id)
  end
end

local function keep(key, ttl)
  if ttl < 0 then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, ttl) end
end

-- Expiries to set once each at the end of the call, the last asked for each key winning: a
-- script runs at one frozen time, so setting it once equals setting it after every request of the
-- batch, at a fifth of the calls.
local ttl_of = {}
local function keep_later(key, ttl) ttl_of[key] = ttl end
local function keep_all() for key, ttl in pairs(ttl_of) do keep(key, ttl) end end

-- Budget counters seen to exist in this call (nothing in these scripts deletes one).
local seen = {}
local function exists(key)
  if seen[key] then return true end
  if redis.call('EXISTS', key) == 1 then
    seen[key] = true
    return true
  end
  return false
end

-- The first budget (1-based) of a request whose counter does not exist, or nil; ARGV holds each
-- budget's key index at b0, b0 + stride, ...
local function first_missing(b0, stride, nb)
  for j = 1, nb do
    if not exists(KEYS[tonumber(ARGV[b0 + stride * (j - 1)])]) then return j end
  end
  return nil
end
`;

/**
 * Admissions, many in one call (the client batches those that arrive together, see redis.ts):
 * each is checked and charged in turn exactly as if it ran alone, and a window read for one is
 * reused by the next in the same second (its sum is kept up to date as they charge it), so a batch
 * reads each window once.
 * KEYS: every key of the batch, each once. ARGV: the admission count, then per admission: id,
 * now_ms, window count, budget count, per window (key index, limit or -1, amount), per budget (key
 * index of its hash, whose reservation set and amounts follow it in KEYS; limit or -1, amount,
 * expires_at_ms, ttl_ms or -1).
 * Answers one reply per admission: {'ok', used1, oldest1, ...}, {'window', index, used1, oldest1,
 * ...}, {'budget', index, spent, reserved} or {'seed', index}.
 */
export const ADMIT = `${WINDOW_SUM}${EXPIRE_RESERVATIONS}
local sums = {}
local function window_state(k, now_s)
  local cached = sums[k]
  if cached == nil or cached.s ~= now_s then
    local used, oldest = window_sum(KEYS[k], now_s)
    cached = { s = now_s, used = used, oldest = oldest }
    sums[k] = cached
  end
  return cached
end
local expired_at = {}
local replies = {}
local a = 2
for n = 1, tonumber(ARGV[1]) do
  local id = ARGV[a]
  local now_ms = tonumber(ARGV[a + 1])
  local now_s = math.floor(now_ms / 1000)
  local nw = tonumber(ARGV[a + 2])
  local nb = tonumber(ARGV[a + 3])
  local w0 = a + 4
  local b0 = w0 + 3 * nw
  a = b0 + 5 * nb
  local reply = nil
  local missing = first_missing(b0, 5, nb)
  if missing then reply = {'seed', missing - 1} end
  if reply == nil then
    for j = 1, nb do
      local k = tonumber(ARGV[b0 + 5 * (j - 1)])
      if expired_at[k] == nil or expired_at[k] < now_ms then
        expire_reservations(KEYS[k], KEYS[k + 1], KEYS[k + 2], now_ms)
        expired_at[k] = now_ms
      end
    end
    local states = {}
    for i = 1, nw do
      local base = w0 + 3 * (i - 1)
      local limit = tonumber(ARGV[base + 1])
      local amount = tonumber(ARGV[base + 2])
      local state = window_state(tonumber(ARGV[base]), now_s)
      states[2 * i - 1] = state.used
      states[2 * i] = state.oldest
      if limit >= 0 and state.used + amount > limit then
        reply = {'window', i - 1}
        for k = 1, 2 * nw do reply[k + 2] = states[k] or 0 end
        break
      end
    end
    if reply == nil then
      for j = 1, nb do
        local base = b0 + 5 * (j - 1)
        local bkey = KEYS[tonumber(ARGV[base])]
        local limit = tonumber(ARGV[base + 1])
        local amount = tonumber(ARGV[base + 2])
        local counts = redis.call('HMGET', bkey, 'spent', 'reserved')
        local spent = tonumber(counts[1] or '0')
        local reserved = tonumber(counts[2] or '0')
        if limit >= 0 and spent + reserved + amount > limit then
          reply = {'budget', j - 1, spent, reserved}
          break
        end
      end
    end
    if reply == nil then
      for i = 1, nw do
        local base = w0 + 3 * (i - 1)
        local k = tonumber(ARGV[base])
        local amount = tonumber(ARGV[base + 2])
        local state = window_state(k, now_s)
        if amount ~= 0 then
          redis.call('HINCRBY', KEYS[k], now_s, amount)
          if state.oldest == -1 then state.oldest = now_s end
        end
        state.used = state.used + amount
        states[2 * i - 1] = state.used
        states[2 * i] = state.oldest
        keep_later(KEYS[k], 120000)
      end
      for j = 1, nb do
        local base = b0 + 5 * (j - 1)
        local k = tonumber(ARGV[base])
        local amount = tonumber(ARGV[base + 2])
        local expires = tonumber(ARGV[base + 3])
        local ttl = tonumber(ARGV[base + 4])
        if amount > 0 then
          redis.call('HINCRBY', KEYS[k], 'reserved', amount)
          redis.call('ZADD', KEYS[k + 1], expires, id)
          redis.call('HSET', KEYS[k + 2], id, amount)
          keep_later(KEYS[k + 1], ttl)
          keep_later(KEYS[k + 2], ttl)
        end
        keep_later(KEYS[k], ttl)
      end
      reply = {'ok'}
      for k = 1, 2 * nw do reply[k + 1] = states[k] end
    end
  end
  replies[n] = reply
end
keep_all()
return replies
`;

/**
 * Settlements, many in one call, each applied in turn as if it ran alone.
 * KEYS: every key of the batch, each once. ARGV: the settlement count, then per settlement: id,
 * window count, budget count, per window (key index, second, delta), per budget (key index of its
 * hash, whose reservation set and amounts follow it in KEYS; actual, ttl_ms or -1).
 * Answers one reply per settlement: each budget's spent, or {'seed', index} when a budget counter
 * no longer exists.
 */
export const SETTLE = `${EXPIRE_RESERVATIONS}
local replies = {}
local a = 2
for n = 1, tonumber(ARGV[1]) do
  local id = ARGV[a]
  local nw = tonumber(ARGV[a + 1])
  local nb = tonumber(ARGV[a + 2])
  local w0 = a + 3
  local b0 = w0 + 3 * nw
  a = b0 + 3 * nb
  local reply = nil
  local missing = first_missing(b0, 3, nb)
  if missing then reply = {'seed', missing - 1} end
  if reply == nil then
    for i = 1, nw do
      local base = w0 + 3 * (i - 1)
      local wkey = KEYS[tonumber(ARGV[base])]
      local second = ARGV[base + 1]
      local delta = tonumber(ARGV[base + 2])
      if redis.call('HEXISTS', wkey, second) == 1 then
        local after = redis.call('HINCRBY', wkey, second, delta)
        if after < 0 then redis.call('HSET', wkey, second, 0) end
      end
    end
    reply = {}
    for j = 1, nb do
      local base = b0 + 3 * (j - 1)
      local k = tonumber(ARGV[base])
      local actual = tonumber(ARGV[base + 1])
      local ttl = tonumber(ARGV[base + 2])
      local amount = redis.call('HGET', KEYS[k + 2], id)
      if amount then
        redis.call('HINCRBY', KEYS[k], 'reserved', -tonumber(amount))
        redis.call('ZREM', KEYS[k + 1], id)
        redis.call('HDEL', KEYS[k + 2], id)
      end
      reply[j] = redis.call('HINCRBY', KEYS[k], 'spent', actual)
      keep_later(KEYS[k], ttl)
    end
  end
  replies[n] = reply
end
keep_all()
return replies
`;

/** KEYS[1]: a budget hash. ARGV: spent, ttl_ms or -1. Creates it only when absent. */
export const SEED = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'spent', ARGV[1], 'reserved', 0)
if tonumber(ARGV[2]) >= 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`;

/** KEYS: windows. ARGV[1]: now_ms. Answers used, oldest per window. */
export const WINDOWS = `${WINDOW_SUM}
local now_s = math.floor(tonumber(ARGV[1]) / 1000)
local reply = {}
for i = 1, #KEYS do
  local used, oldest = window_sum(KEYS[i], now_s)
  reply[2 * i - 1] = used
  reply[2 * i] = oldest
end
return reply
`;
