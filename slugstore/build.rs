//! When RocksDB is linked statically (`ROCKSDB_STATIC`, see `.cargo/config.toml`), its own dependencies
//! (the compression libraries Debian's `librocksdb.a` was built with) are linked from the system's shared
//! libraries. (rustc passes them after the archive that needs them: native libraries go in dependency order.)

fn main() {
    println!("cargo:rerun-if-env-changed=ROCKSDB_STATIC");
    if std::env::var_os("ROCKSDB_STATIC").is_some() {
        for lib in ["snappy", "lz4", "zstd", "bz2", "z"] {
            println!("cargo:rustc-link-lib=dylib={lib}");
        }
    }
}
