//! The Lua scripts. Redis runs a script without interleaving other commands, so each write
//! checks its references and unique keys and then writes, all or nothing.

use serde::Serialize;

/// One record write for [`APPLY`]: checks, then writes; every check of every op in a call
/// runs before the first write.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Op {
    /// Keys that must exist, with the `entity key` an error names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exists: Vec<(String, String)>,
    /// `(hash, field, "entity key")` that must not exist yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unique_hash: Vec<(String, String, String)>,
    /// `(set, member, "entity key")` that must not exist yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unique_set: Vec<(String, String, String)>,
    /// Counter to `INCR` for the new record's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<String>,
    /// An imported record's own id: used instead of `INCR`, the counter raised to it, and
    /// the whole op skipped (checks too) when the record is already there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// Record key prefix; the id is appended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Field, value, field, value...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Sorted sets that get the id (score = id).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zadd: Vec<String>,
    /// `(sorted set, score)` that get the id as a zero-padded member: equal scores then
    /// order by id (members compare as strings).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zadd_scored: Vec<(String, f64)>,
    /// `(hash, field)` set to the id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hset_id: Vec<(String, String)>,
    /// Sets that get the id.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sadd_id: Vec<String>,
    /// `(set, member)` to add.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sadd: Vec<(String, String)>,
    /// `(list, value)` to append.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rpush: Vec<(String, String)>,
    /// `(counter, by)` to increment.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incr: Vec<(String, i64)>,
}

/// ARGV[1]: a JSON array of [`Op`]. Returns the new ids (0 for ops without `seq`, -1 for
/// imported records already there).
pub(crate) const APPLY: &str = r#"
local ops = cjson.decode(ARGV[1])
local present = {}
for i, op in ipairs(ops) do
  present[i] = op.id ~= nil and redis.call('EXISTS', op.hash .. op.id) == 1
end
for i, op in ipairs(ops) do
  if not present[i] then
    for _, c in ipairs(op.exists or {}) do
      if redis.call('EXISTS', c[1]) == 0 then return redis.error_reply('AIMDB_NOTFOUND ' .. c[2]) end
    end
    for _, u in ipairs(op.unique_hash or {}) do
      if redis.call('HEXISTS', u[1], u[2]) == 1 then return redis.error_reply('AIMDB_EXISTS ' .. u[3]) end
    end
    for _, u in ipairs(op.unique_set or {}) do
      if redis.call('SISMEMBER', u[1], u[2]) == 1 then return redis.error_reply('AIMDB_EXISTS ' .. u[3]) end
    end
  end
end
local ids = {}
for i, op in ipairs(ops) do
  if present[i] then
    ids[i] = -1
  else
    local id = 0
    if op.id then
      id = op.id
      if tonumber(redis.call('GET', op.seq) or '0') < id then redis.call('SET', op.seq, id) end
    elseif op.seq then
      id = redis.call('INCR', op.seq)
    end
    ids[i] = id
    if op.hash then redis.call('HSET', op.hash .. id, unpack(op.fields)) end
    for _, z in ipairs(op.zadd or {}) do redis.call('ZADD', z, id, id) end
    for _, z in ipairs(op.zadd_scored or {}) do redis.call('ZADD', z[1], z[2], string.format('%020d', id)) end
    for _, h in ipairs(op.hset_id or {}) do redis.call('HSET', h[1], h[2], id) end
    for _, s in ipairs(op.sadd_id or {}) do redis.call('SADD', s, id) end
    for _, s in ipairs(op.sadd or {}) do redis.call('SADD', s[1], s[2]) end
    for _, l in ipairs(op.rpush or {}) do redis.call('RPUSH', l[1], l[2]) end
    for _, c in ipairs(op.incr or {}) do redis.call('INCRBY', c[1], c[2]) end
  end
end
return ids
"#;

/// Partial run update. ARGV: run key, completed set, run id, status given (1/0),
/// status is completed (1/0), then field, value... Returns the run's fields.
pub(crate) const UPDATE_RUN: &str = r#"
if redis.call('EXISTS', ARGV[1]) == 0 then return redis.error_reply('AIMDB_NOTFOUND training_run ' .. ARGV[3]) end
if #ARGV > 5 then redis.call('HSET', ARGV[1], unpack(ARGV, 6)) end
if ARGV[4] == '1' then
  if ARGV[5] == '1' then redis.call('SADD', ARGV[2], ARGV[3]) else redis.call('SREM', ARGV[2], ARGV[3]) end
end
return redis.call('HGETALL', ARGV[1])
"#;

/// Hyperparameters. ARGV: run key, params hash, counter, run id, then name, value...
pub(crate) const LOG_PARAMS: &str = r#"
if redis.call('EXISTS', ARGV[1]) == 0 then return redis.error_reply('AIMDB_NOTFOUND training_run ' .. ARGV[4]) end
if #ARGV > 4 then
  local added = redis.call('HSET', ARGV[2], unpack(ARGV, 5))
  redis.call('INCRBY', ARGV[3], added)
end
return 0
"#;

/// Tags set on one record. ARGV: record key, tags hash, entity, id, then name/value pairs.
pub(crate) const SET_TAGS: &str = r#"
if redis.call('EXISTS', ARGV[1]) == 0 then return redis.error_reply('AIMDB_NOTFOUND ' .. ARGV[3] .. ' ' .. ARGV[4]) end
if #ARGV > 4 then redis.call('HSET', ARGV[2], unpack(ARGV, 5)) end
return 0
"#;

/// One tag removed. ARGV: record key, tags hash, entity, id, name. Returns 1 if it was there.
pub(crate) const DELETE_TAG: &str = r#"
if redis.call('EXISTS', ARGV[1]) == 0 then return redis.error_reply('AIMDB_NOTFOUND ' .. ARGV[3] .. ' ' .. ARGV[4]) end
return redis.call('HDEL', ARGV[2], ARGV[5])
"#;

/// Metrics, appended in order. ARGV: run key, metrics list, counter, run id, then one JSON
/// metric per argument. Pushed in slices: Lua's `unpack` has a stack limit.
pub(crate) const LOG_METRICS: &str = r#"
if redis.call('EXISTS', ARGV[1]) == 0 then return redis.error_reply('AIMDB_NOTFOUND training_run ' .. ARGV[4]) end
local i = 5
while i <= #ARGV do
  local j = math.min(i + 4999, #ARGV)
  redis.call('RPUSH', ARGV[2], unpack(ARGV, i, j))
  i = j + 1
end
redis.call('INCRBY', ARGV[3], #ARGV - 4)
return #ARGV - 4
"#;
