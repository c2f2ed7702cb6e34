//! Counters in Redis, shared by every replica: each admission is one `EVALSHA` of a Lua script
//! that checks and updates every limit of the key atomically.
//!
//! Redis runs a script to completion before any other command, so two replicas admitting for
//! the same key at once cannot both see the last free slot (no read-modify-write race). The
//! script reads Redis's own clock (`TIME`), so replicas whose clocks disagree still share one
//! timeline; scripts replicate by effects (the Redis 7 default), so `TIME` in a script is
//! allowed.
//!
//! Keys, all with the key's name as a hash tag so one admission touches one cluster slot:
//!
//! ```text
//! {prefix}{name}:rq            requests TAT (µs since the epoch), expires when idle
//! {prefix}{name}:tk            tokens TAT
//! {prefix}{name}:cc            sorted set: lease id -> expiry (µs); expired leases are dropped
//! {prefix}{name}:bg:2026-11    USD spent in the period, expires after the period
//! ```
//!
//! A concurrency slot is a lease with an expiry: the limiter renews it while the request runs,
//! and a replica that crashes leaks its slots only until their TTL passes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bulkhead_core::async_trait;
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Admission, Lease, Settlement, Store, StoreError, Verdict};
use crate::denied::LimitKind;

const ADMIT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function gcra(key, interval, tolerance, cost)
  local tat = tonumber(redis.call('GET', key)) or 0
  local base = math.max(tat, now)
  local inc = cost * interval
  local new_tat = base + inc
  if inc > tolerance then
    if tat > now then return nil, tat - now end
    return new_tat, 0
  end
  if new_tat - now > tolerance then return nil, new_tat - tolerance - now end
  return new_tat, 0
end

local budget = tonumber(ARGV[9])
if budget then
  local spent = tonumber(redis.call('GET', KEYS[4])) or 0
  if spent >= budget then return {4, 0} end
end

local cc_max = tonumber(ARGV[6])
if cc_max then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= cc_max then return {3, 0} end
end

local code, retry = 0, 0
local rq_tat, tk_tat
local rq_interval = tonumber(ARGV[1])
if rq_interval then
  local r
  rq_tat, r = gcra(KEYS[1], rq_interval, tonumber(ARGV[2]), 1)
  if not rq_tat then code, retry = 1, r end
end
local tk_interval = tonumber(ARGV[3])
if tk_interval then
  local r
  tk_tat, r = gcra(KEYS[2], tk_interval, tonumber(ARGV[4]), tonumber(ARGV[5]))
  if not tk_tat and (code == 0 or r > retry) then code, retry = 2, r end
end
if code ~= 0 then return {code, math.ceil(retry)} end

if rq_tat then
  redis.call('SET', KEYS[1], string.format('%.3f', rq_tat), 'PX', math.ceil((rq_tat - now) / 1000) + 1000)
end
if tk_tat then
  redis.call('SET', KEYS[2], string.format('%.3f', tk_tat), 'PX', math.ceil((tk_tat - now) / 1000) + 1000)
end
if cc_max then
  local ttl = tonumber(ARGV[8])
  redis.call('ZADD', KEYS[3], now + ttl, ARGV[7])
  redis.call('PEXPIRE', KEYS[3], math.ceil(ttl / 1000) + 1000)
end
return {0, 0}
"#;

const SETTLE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tk_interval = tonumber(ARGV[1])
if tk_interval then
  local tat = tonumber(redis.call('GET', KEYS[1])) or 0
  local new_tat = math.max(tat, now) + tonumber(ARGV[2]) * tk_interval
  if new_tat <= now then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
  end
end
if ARGV[3] ~= '' then
  redis.call('INCRBYFLOAT', KEYS[2], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 1
"#;

const RENEW: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ttl = tonumber(ARGV[2])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], math.ceil(ttl / 1000) + 1000)
  return 1
end
return 0
"#;

/// Limits shared by every replica through one Redis.
///
/// Construction does no I/O: the connection is made on first use and remade after failures
/// (redis-rs's `ConnectionManager`), so a gateway starts even while Redis is down and the
/// limiter's fail mode decides what happens meanwhile.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    scripts: Arc<Scripts>,
}

struct Scripts {
    admit: Script,
    settle: Script,
    renew: Script,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: it is not kept, let alone printed.
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn store_error(e: redis::RedisError) -> StoreError {
    // redis-rs errors name the command and the server's reply, never the URL's password.
    StoreError::new(e.to_string())
}

impl RedisStore {
    /// A store at `url` (`redis://[:password@]host:port/[db]`) with key prefix
    /// `bulkhead:limits:`; `timeout` bounds connecting and each reply.
    ///
    /// Must be called within a Tokio runtime. Fails only when the URL is invalid.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::new(format!("invalid redis url ({:?})", e.kind())))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(store_error)?;
        Ok(Self {
            conn,
            prefix: Arc::from("bulkhead:limits:"),
            scripts: Arc::new(Scripts {
                admit: Script::new(ADMIT),
                settle: Script::new(SETTLE),
                renew: Script::new(RENEW),
            }),
        })
    }

    /// Use `prefix` before every key (tests use a unique one; several gateways may share a
    /// Redis with different prefixes).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    fn key(&self, name: &str, suffix: &str) -> String {
        format!("{}{{{name}}}:{suffix}", self.prefix)
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[async_trait]
impl Store for RedisStore {
    async fn admit(&self, a: &Admission<'_>) -> Result<Verdict, StoreError> {
        let budget_key = match &a.budget {
            Some(b) => self.key(a.key, &format!("bg:{}", b.period_label)),
            None => self.key(a.key, "bg"),
        };
        let mut inv = self.scripts.admit.prepare_invoke();
        inv.key(self.key(a.key, "rq"))
            .key(self.key(a.key, "tk"))
            .key(self.key(a.key, "cc"))
            .key(budget_key)
            .arg(opt(a.requests.map(|g| g.interval_us)))
            .arg(opt(a.requests.map(|g| g.tolerance_us)))
            .arg(opt(a.tokens.map(|(g, _)| g.interval_us)))
            .arg(opt(a.tokens.map(|(g, _)| g.tolerance_us)))
            .arg(a.tokens.map_or(0, |(_, n)| n))
            .arg(opt(a.concurrency.as_ref().map(|c| f64::from(c.max))))
            .arg(a.concurrency.as_ref().map_or("", |c| c.lease.as_str()))
            .arg(a.concurrency.as_ref().map_or(0, |c| micros(c.lease_ttl)))
            .arg(opt(a.budget.as_ref().map(|b| b.limit_usd)));
        let mut conn = self.conn.clone();
        let (code, retry_us): (i64, i64) =
            inv.invoke_async(&mut conn).await.map_err(store_error)?;
        let retry_after = Duration::from_micros(u64::try_from(retry_us).unwrap_or(0));
        let limit = match code {
            0 => return Ok(Verdict::Admitted),
            1 => LimitKind::Requests,
            2 => LimitKind::Tokens,
            3 => LimitKind::Concurrency,
            4 => LimitKind::Budget,
            other => return Err(StoreError::new(format!("unexpected admit code {other}"))),
        };
        Ok(Verdict::Denied { limit, retry_after })
    }

    async fn settle(&self, s: &Settlement<'_>) -> Result<(), StoreError> {
        let (budget_key, cost, keep_ms) = match &s.budget {
            Some((b, cost)) if *cost > 0.0 && cost.is_finite() => (
                self.key(s.key, &format!("bg:{}", b.period_label)),
                cost.to_string(),
                b.keep_for.as_millis().max(1),
            ),
            _ => (self.key(s.key, "bg"), String::new(), 0),
        };
        let mut inv = self.scripts.settle.prepare_invoke();
        inv.key(self.key(s.key, "tk"))
            .key(budget_key)
            .arg(opt(s.tokens.map(|(g, _)| g.interval_us)))
            .arg(s.tokens.map_or(0, |(_, d)| d))
            .arg(cost)
            .arg(u64::try_from(keep_ms).unwrap_or(u64::MAX));
        let mut conn = self.conn.clone();
        let _: i64 = inv.invoke_async(&mut conn).await.map_err(store_error)?;
        Ok(())
    }

    fn release(&self, key: &str, lease: &Lease) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Outside a runtime the lease simply expires.
            return;
        };
        let mut conn = self.conn.clone();
        let set = self.key(key, "cc");
        let lease = lease.as_str().to_owned();
        runtime.spawn(async move {
            let result: redis::RedisResult<i64> = redis::cmd("ZREM")
                .arg(&set)
                .arg(&lease)
                .query_async(&mut conn)
                .await;
            if let Err(e) = result {
                metrics::counter!("bulkhead_limits_store_errors_total", "op" => "release")
                    .increment(1);
                tracing::warn!(error = %e, "limits: could not release a concurrency slot; it expires with its lease");
            }
        });
    }

    fn leases_expire(&self) -> bool {
        true
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn renew(&self, key: &str, lease: &Lease, ttl: Duration) -> Result<(), StoreError> {
        let mut inv = self.scripts.renew.prepare_invoke();
        inv.key(self.key(key, "cc"))
            .arg(lease.as_str())
            .arg(micros(ttl));
        let mut conn = self.conn.clone();
        let _: i64 = inv.invoke_async(&mut conn).await.map_err(store_error)?;
        Ok(())
    }
}
