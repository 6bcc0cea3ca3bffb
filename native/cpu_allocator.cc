#include "cpu_allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <c10/util/Exception.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <unordered_map>

namespace laxray {
namespace {

// A cached block serves a request up to this much smaller than itself, so
// inputs of slightly different sizes (multi-scale training) still reuse blocks.
constexpr size_t kMaxSlackDivisor = 8;  // at most 1/8 of the block unused

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t nbytes) const override {
    void* data = nbytes >= kMinCachedBytes ? allocateLarge(nbytes) : c10::alloc_cpu(nbytes);
    return {data, data, &release, c10::Device(c10::DeviceType::CPU)};
  }

  // One deleter for every block (LibTorch's raw_allocate needs that): it
  // looks the block up among the large ones to know whether to cache it.
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void setLimit(int64_t limitBytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limitBytes_ = limitBytes < 0 ? 0 : static_cast<size_t>(limitBytes);
    trimTo(limitBytes_);
  }

  CpuCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {static_cast<int64_t>(limitBytes_), static_cast<int64_t>(cachedBytes_), hits_, misses_};
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    trimTo(0);
  }

  static CachingCpuAllocator& instance() {
    // never destroyed: tensors may be freed by static destructors after main
    static auto* allocator = new CachingCpuAllocator();
    return *allocator;
  }

 private:
  static void release(void* data) { instance().releaseBlock(data); }

  void* allocateLarge(size_t nbytes) const {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(nbytes);  // the smallest block that is large enough
      if (it != free_.end() && it->first - nbytes <= it->first / kMaxSlackDivisor) {
        // of that size, the one freed last: likely still in the CPU's caches, as malloc's reuse is
        it = std::prev(free_.upper_bound(it->first));
        void* data = it->second;
        cachedBytes_ -= it->first;
        live_.emplace(data, it->first);
        free_.erase(it);
        ++hits_;
        return data;
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
      if (cachedBytes_ == 0) throw;
      trimTo(0);
    }
    return c10::alloc_cpu(nbytes);
  }

  void releaseBlock(void* data) {
    if (data == nullptr) return;
    std::unique_lock<std::mutex> lock(mutex_);
    auto it = live_.find(data);
    if (it == live_.end()) {
      lock.unlock();
      c10::free_cpu(data);  // a small block
      return;
    }
    const size_t nbytes = it->second;
    live_.erase(it);
    if (cachedBytes_ + nbytes > limitBytes_) {
      lock.unlock();
      c10::free_cpu(data);
      return;
    }
    free_.emplace(nbytes, data);
    cachedBytes_ += nbytes;
  }

  // Frees cached blocks, largest first, until at most `bytes` stay. Holds mutex_.
  void trimTo(size_t bytes) const {
    while (cachedBytes_ > bytes && !free_.empty()) {
      auto largest = std::prev(free_.end());
      cachedBytes_ -= largest->first;
      c10::free_cpu(largest->second);
      free_.erase(largest);
    }
  }

  mutable std::mutex mutex_;
  mutable std::multimap<size_t, void*> free_;       // size -> cached block
  mutable std::unordered_map<void*, size_t> live_;  // large blocks in use -> size
  mutable size_t cachedBytes_ = 0;
  mutable int64_t hits_ = 0;
  mutable int64_t misses_ = 0;
  size_t limitBytes_ = 0;
};

}  // namespace

void installCpuCachingAllocator(int64_t limitBytes) {
  CachingCpuAllocator& allocator = CachingCpuAllocator::instance();
  allocator.setLimit(limitBytes);
  static std::once_flag installed;
  // priority above LibTorch's default (0), so a later default registration cannot replace it
  std::call_once(installed, [&] { c10::SetCPUAllocator(&allocator, /*priority=*/1); });
}

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
