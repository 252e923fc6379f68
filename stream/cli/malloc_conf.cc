// jemalloc's options for the encore binary, and for processor_bench so that
// it measures the same allocator (bench/processor_bench.cc). Compiled only
// into binaries that link jemalloc (ENCORE_JEMALLOC); MALLOC_CONF in the
// environment overrides them (bench/results/miss-jemalloc.md).
//
// A background thread hands pages freed a second ago back to the system, so
// RSS follows the write-back cache down after evictions (jemalloc's default
// keeps them ~10 s); two arenas, not four per core, keep peak RSS where
// glibc's was (at 64 MiB: 117-118 MiB, against up to 129 with eight arenas).
extern "C" {
const char* malloc_conf =
    "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2";
}
