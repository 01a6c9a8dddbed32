//! The one wasmtime `Engine` of the host: Cranelift, the component model, epoch interruption,
//! the pooling instance allocator, and an on-disk cache of precompiled components keyed by the
//! component's SHA-256 and the engine's compatibility hash (wasmtime version and settings).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bounds on every module call.
#[derive(Debug, Clone, Copy)]
pub struct CallLimits {
    /// Linear memory of one instance.
    pub memory_bytes: usize,
    /// Wall-clock time of one call, host calls included.
    pub time: Duration,
    /// Largest response body a module may return.
    pub response_bytes: usize,
    /// Largest wasm stack (deep recursion traps past it).
    pub stack_bytes: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            memory_bytes: 64 << 20,
            time: Duration::from_secs(2),
            response_bytes: 1 << 20,
            stack_bytes: 512 << 10,
        }
    }
}

/// Instances the pool holds at once: concurrent module calls beyond it wait for a slot.
pub const POOL_INSTANCES: u32 = 256;

/// The engine and the compile cache.
#[derive(Clone)]
pub struct ModuleEngine {
    engine: Engine,
    cache_dir: PathBuf,
    /// Whether the pooling allocator could reserve its address space.
    pub pooled: bool,
}

fn config(limits: &CallLimits, pooling: bool) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.max_wasm_stack(limits.stack_bytes);
    if pooling {
        let mut pool = PoolingAllocationConfig::new();
        // A Rust wasip2 component has a few core instances (the program and WASI adapters),
        // one memory and a couple of tables.
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES * 2)
            .total_stacks(POOL_INSTANCES)
            .max_memories_per_component(2)
            .max_tables_per_component(4)
            .max_memory_size(limits.memory_bytes)
            // Keep the first pages of a reused slot mapped (zeroed, not unmapped): faster
            // reinstantiation (measured here: 53 → 42 µs per instance with 2 MiB).
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10)
            // Where the kernel can say which of those pages a call dirtied (Linux ≥ 6.7),
            // reset only those instead of all 2 MiB at every call.
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl ModuleEngine {
    /// Builds the engine (pooling allocator, or on-demand if this machine cannot reserve the
    /// pool's address space) and starts the epoch ticker.
    pub fn new(cache_dir: &Path, limits: &CallLimits) -> wasmtime::Result<ModuleEngine> {
        let (engine, pooled) = match Engine::new(&config(limits, true)) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!(error = %e, "pooling allocator unavailable, using on-demand instances");
                (Engine::new(&config(limits, false))?, false)
            }
        };
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("parvis-epoch".into())
            .spawn(move || {
                // Ends with the engine.
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(ModuleEngine {
            engine,
            cache_dir: cache_dir.to_path_buf(),
            pooled,
        })
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn cache_path(&self, sha256: &str) -> PathBuf {
        let mut h = DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        self.cache_dir
            .join(format!("{sha256}-{:016x}.cwasm", h.finish()))
    }

    /// Compiles `wasm`, or maps its precompiled form from the cache (compiling and storing it
    /// the first time).
    pub fn load(&self, sha256: &str, wasm: &[u8]) -> wasmtime::Result<Component> {
        let path = self.cache_path(sha256);
        if path.exists() {
            // SAFETY: files in the cache directory are written only by `store` below, from
            // `Engine::precompile_component` of this engine configuration (the file name
            // carries the compatibility hash); wasmtime also checks the header and version.
            #[expect(unsafe_code, reason = "mapping a component this host precompiled")]
            let mapped = unsafe { Component::deserialize_file(&self.engine, &path) };
            match mapped {
                Ok(component) => return Ok(component),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "module cache entry unusable, recompiling");
                }
            }
        }
        let compiled = self.engine.precompile_component(wasm)?;
        if let Err(e) = self.store(&path, &compiled) {
            tracing::warn!(path = %path.display(), error = %e, "module cache not writable");
        }
        #[expect(
            unsafe_code,
            reason = "deserializing what this engine just precompiled"
        )]
        // SAFETY: `compiled` comes from `precompile_component` of this very engine.
        let component = unsafe { Component::deserialize(&self.engine, &compiled) }?;
        Ok(component)
    }

    fn store(&self, path: &Path, compiled: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.cache_dir)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, compiled)?;
        std::fs::rename(&tmp, path)
    }
}

/// Hex SHA-256 of a component, its identity in the registry and the cache.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
