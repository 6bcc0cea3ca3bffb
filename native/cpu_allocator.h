// LibTorch's CPU allocator, with freed large blocks kept for reuse.
//
// glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh
// mappings and unmaps them on free, and trims the per-thread arenas that hold
// smaller ones; a network's activations are allocated and freed on every call,
// so each forward pass faults its whole working set in again (ResNet-50 at
// 800×1344: ~900,000 page faults per detection, a third of the time in the
// kernel). This allocator keeps freed blocks of at least kMinCachedBytes in a
// cache bounded by a byte limit and hands them out again, as PyTorch's CUDA
// caching allocator does on the GPU. Smaller blocks go to malloc as before.
#pragma once

#include <cstddef>
#include <cstdint>

namespace laxray {

// Blocks below this go straight to malloc (its arenas keep them warm).
constexpr size_t kMinCachedBytes = size_t{256} << 10;

struct CpuCacheStats {
  int64_t limitBytes = 0;   // 0: the cache is off
  int64_t cachedBytes = 0;  // freed blocks held for reuse now
  int64_t hits = 0;         // allocations served from the cache
  int64_t misses = 0;       // allocations of cacheable size that went to malloc
};

// Makes the caching allocator LibTorch's CPU allocator (once; later calls do nothing).
void installCpuCachingAllocator();

// At most `limitBytes` of freed blocks are kept (0: none, every block goes back
// at once); lowering the limit frees cached blocks at once, oldest first.
void setCpuCacheLimit(int64_t limitBytes);

CpuCacheStats cpuCacheStats();

// A quarter of the memory this process may use: the machine's, or its cgroup's
// limit when that is lower (a container).
int64_t defaultCpuCacheLimit();

// Gives every cached block back to the system (e.g. before a phase that needs
// the memory for something else).
void emptyCpuCache();

}  // namespace laxray
