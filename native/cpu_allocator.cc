#include "cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>

namespace laxray {
namespace {

// A cached block serves a request up to this much smaller than itself, so
// inputs of slightly different sizes (multi-scale training) still reuse blocks.
constexpr size_t kMaxSlackDivisor = 8;  // at most 1/8 of the block unused

// Freed blocks by size and by age, at most `limit` bytes. When a block does
// not fit, the oldest go first: after a change of input size the blocks of
// the old size are the ones that will not come back. Not thread-safe (the
// allocator locks around it).
class BlockCache {
 public:
  struct Block {
    void* data = nullptr;
    size_t size = 0;
  };

  // The smallest cached block of at least `nbytes` (within the slack), of that
  // size the one freed last (likely still in the CPU's caches, as malloc's
  // reuse is); data nullptr if none. The block leaves the cache.
  Block take(size_t nbytes) {
    auto it = bySize_.lower_bound(nbytes);
    if (it == bySize_.end() || it->first - nbytes > it->first / kMaxSlackDivisor) return {};
    it = std::prev(bySize_.upper_bound(it->first));  // equal sizes keep insertion order
    const Block block = *it->second;
    remove(it);
    return block;
  }

  // Keeps a freed block, evicting the oldest ones to stay within the limit;
  // false when the block alone is over the limit (the caller frees it).
  bool put(void* data, size_t nbytes) {
    if (nbytes > limit_) return false;
    while (bytes_ + nbytes > limit_) evictOldest();
    byAge_.push_back({data, nbytes});
    bySize_.emplace(nbytes, std::prev(byAge_.end()));
    bytes_ += nbytes;
    return true;
  }

  // A new limit; blocks over it are freed at once, oldest first.
  void setLimit(size_t limit) {
    limit_ = limit;
    while (bytes_ > limit_) evictOldest();
  }

  void clear() {
    while (!byAge_.empty()) evictOldest();
  }

  size_t limit() const { return limit_; }
  size_t bytes() const { return bytes_; }

 private:
  using AgeList = std::list<Block>;

  void evictOldest() {
    const Block oldest = byAge_.front();
    auto [first, last] = bySize_.equal_range(oldest.size);
    remove(std::find_if(first, last, [&](const auto& entry) { return entry.second == byAge_.begin(); }));
    c10::free_cpu(oldest.data);
  }

  void remove(std::multimap<size_t, AgeList::iterator>::iterator entry) {
    bytes_ -= entry->first;
    byAge_.erase(entry->second);
    bySize_.erase(entry);
  }

  AgeList byAge_;                                         // oldest first
  std::multimap<size_t, AgeList::iterator> bySize_;       // size -> its block in byAge_
  size_t bytes_ = 0;
  size_t limit_ = 0;
};

class CachingCpuAllocator final : public c10::Allocator {
 public:
  // LibTorch 2.3 made allocate() non-const and added copy_data(): both forms
  // are declared (without `override`), so this builds against 1.13 and 2.x.
  c10::DataPtr allocate(size_t nbytes) const { return allocateBlock(nbytes); }
  c10::DataPtr allocate(size_t nbytes) { return allocateBlock(nbytes); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  // One deleter for every block (LibTorch's raw_allocate needs that): it
  // looks the block up among the large ones to know whether to cache it.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void setLimit(int64_t limitBytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.setLimit(limitBytes < 0 ? 0 : static_cast<size_t>(limitBytes));
  }

  CpuCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {static_cast<int64_t>(cache_.limit()), static_cast<int64_t>(cache_.bytes()), hits_, misses_};
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    cache_.clear();
  }

  static CachingCpuAllocator& instance() {
    // never destroyed: tensors may be freed by static destructors after main
    static auto* allocator = new CachingCpuAllocator();
    return *allocator;
  }

 private:
  static void release(void* data) { instance().releaseBlock(data); }

  c10::DataPtr allocateBlock(size_t nbytes) const {
    void* data = nbytes >= kMinCachedBytes ? allocateLarge(nbytes) : c10::alloc_cpu(nbytes);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  void* allocateLarge(size_t nbytes) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const BlockCache::Block cached = cache_.take(nbytes);
      if (cached.data != nullptr) {
        ++hits_;
        live_.emplace(cached.data, cached.size);
        return cached.data;
      }
      ++misses_;
    }
    void* data = allocateFromSystem(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    live_.emplace(data, nbytes);
    return data;
  }

  // On failure the cached blocks are given back and the request tried once more.
  void* allocateFromSystem(size_t nbytes) const {
    try {
      return c10::alloc_cpu(nbytes);
    } catch (const c10::Error&) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cache_.bytes() == 0) throw;
      cache_.clear();
    }
    return c10::alloc_cpu(nbytes);
  }

  void releaseBlock(void* data) {
    if (data == nullptr) return;
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = live_.find(data);
    if (it != live_.end()) {
      const size_t nbytes = it->second;
      live_.erase(it);
      if (cache_.put(data, nbytes)) return;
    }
    lock.unlock();
    c10::free_cpu(data);  // a small block, or one larger than the whole cache
  }

  mutable std::mutex mutex_;
  mutable BlockCache cache_;
  mutable std::unordered_map<void*, size_t> live_;  // large blocks in use -> their size
  mutable int64_t hits_ = 0;
  mutable int64_t misses_ = 0;
};

}  // namespace

void installCpuCachingAllocator() {
  static std::once_flag installed;
  // priority above LibTorch's default (0), so a later default registration cannot replace it
  std::call_once(installed, [] { c10::SetCPUAllocator(&CachingCpuAllocator::instance(), /*priority=*/1); });
}

void setCpuCacheLimit(int64_t limitBytes) { CachingCpuAllocator::instance().setLimit(limitBytes); }

int64_t defaultCpuCacheLimit() {
  int64_t memory = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(sysconf(_SC_PAGE_SIZE));
  std::ifstream cgroupLimit("/sys/fs/cgroup/memory.max");  // cgroup v2; "max" when unlimited
  int64_t limit = 0;
  if (cgroupLimit >> limit && limit > 0) memory = memory > 0 ? std::min(memory, limit) : limit;
  return std::max<int64_t>(memory, 0) / 4;
}

CpuCacheStats cpuCacheStats() { return CachingCpuAllocator::instance().stats(); }

void emptyCpuCache() { CachingCpuAllocator::instance().empty(); }

}  // namespace laxray
