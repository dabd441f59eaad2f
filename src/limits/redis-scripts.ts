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
`;

/**
 * KEYS: the windows, then per budget its hash, reservation set and reservation amounts.
 * ARGV: now_ms, id, window count, budget count, per window (limit or -1, amount),
 * per budget (limit or -1, amount, expires_at_ms, ttl_ms or -1).
 * Answers {'ok', used1, oldest1, ...}, {'window', index, used1, oldest1, ...},
 * {'budget', index, spent, reserved} or {'seed', index}.
 */
export const ADMIT = `${WINDOW_SUM}${EXPIRE_RESERVATIONS}
local now_ms = tonumber(ARGV[1])
local now_s = math.floor(now_ms / 1000)
local id = ARGV[2]
local nw = tonumber(ARGV[3])
local nb = tonumber(ARGV[4])
local a = 5
for j = 1, nb do
  if redis.call('EXISTS', KEYS[nw + 3 * j - 2]) == 0 then return {'seed', j - 1} end
end
for j = 1, nb do
  expire_reservations(KEYS[nw + 3 * j - 2], KEYS[nw + 3 * j - 1], KEYS[nw + 3 * j], now_ms)
end
local states = {}
for i = 1, nw do
  local limit = tonumber(ARGV[a + 2 * (i - 1)])
  local amount = tonumber(ARGV[a + 2 * (i - 1) + 1])
  local used, oldest = window_sum(KEYS[i], now_s)
  states[2 * i - 1] = used
  states[2 * i] = oldest
  if limit >= 0 and used + amount > limit then
    local reply = {'window', i - 1}
    for k = 1, 2 * nw do reply[k + 2] = states[k] or 0 end
    return reply
  end
end
local b = a + 2 * nw
for j = 1, nb do
  local base = b + 4 * (j - 1)
  local limit = tonumber(ARGV[base])
  local amount = tonumber(ARGV[base + 1])
  local bkey = KEYS[nw + 3 * j - 2]
  local spent = tonumber(redis.call('HGET', bkey, 'spent') or '0')
  local reserved = tonumber(redis.call('HGET', bkey, 'reserved') or '0')
  if limit >= 0 and spent + reserved + amount > limit then return {'budget', j - 1, spent, reserved} end
end
for i = 1, nw do
  local amount = tonumber(ARGV[a + 2 * (i - 1) + 1])
  if amount ~= 0 then
    redis.call('HINCRBY', KEYS[i], now_s, amount)
    if states[2 * i] == -1 then states[2 * i] = now_s end
  end
  states[2 * i - 1] = states[2 * i - 1] + amount
  redis.call('PEXPIRE', KEYS[i], 120000)
end
for j = 1, nb do
  local base = b + 4 * (j - 1)
  local amount = tonumber(ARGV[base + 1])
  local expires = tonumber(ARGV[base + 2])
  local ttl = tonumber(ARGV[base + 3])
  local bkey = KEYS[nw + 3 * j - 2]
  local zkey = KEYS[nw + 3 * j - 1]
  local hkey = KEYS[nw + 3 * j]
  if amount > 0 then
    redis.call('HINCRBY', bkey, 'reserved', amount)
    redis.call('ZADD', zkey, expires, id)
    redis.call('HSET', hkey, id, amount)
    keep(zkey, ttl)
    keep(hkey, ttl)
  end
  keep(bkey, ttl)
end
local reply = {'ok'}
for k = 1, 2 * nw do reply[k + 1] = states[k] end
return reply
`;

/**
 * KEYS: the windows to correct, then per budget its hash, reservation set and amounts.
 * ARGV: id, window count, budget count, per window (second, delta), per budget (actual, ttl_ms).
 * Answers each budget's spent, or {'seed', index} when a budget counter no longer exists.
 */
export const SETTLE = `${EXPIRE_RESERVATIONS}
local id = ARGV[1]
local nw = tonumber(ARGV[2])
local nb = tonumber(ARGV[3])
for j = 1, nb do
  if redis.call('EXISTS', KEYS[nw + 3 * j - 2]) == 0 then return {'seed', j - 1} end
end
for i = 1, nw do
  local second = ARGV[3 + 2 * i - 1]
  local delta = tonumber(ARGV[3 + 2 * i])
  if redis.call('HEXISTS', KEYS[i], second) == 1 then
    local after = redis.call('HINCRBY', KEYS[i], second, delta)
    if after < 0 then redis.call('HSET', KEYS[i], second, 0) end
  end
end
local b = 4 + 2 * nw
local spent = {}
for j = 1, nb do
  local actual = tonumber(ARGV[b + 2 * (j - 1)])
  local ttl = tonumber(ARGV[b + 2 * (j - 1) + 1])
  local bkey = KEYS[nw + 3 * j - 2]
  local zkey = KEYS[nw + 3 * j - 1]
  local hkey = KEYS[nw + 3 * j]
  local amount = redis.call('HGET', hkey, id)
  if amount then
    redis.call('HINCRBY', bkey, 'reserved', -tonumber(amount))
    redis.call('ZREM', zkey, id)
    redis.call('HDEL', hkey, id)
  end
  spent[j] = redis.call('HINCRBY', bkey, 'spent', actual)
  keep(bkey, ttl)
end
return spent
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
