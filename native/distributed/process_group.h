// One data-parallel job's process group on PyTorch's c10d: a TCPStore
// rendezvous hosted by rank 0 at masterAddr:masterPort, and a collective
// backend over it, Gloo for CPU processes or NCCL for one GPU per process.
//
// Every collective must be called in the same order on every rank. A failed
// collective (a peer died, or did not arrive within `timeout`) throws
// std::runtime_error naming the rank that failed where it can be told: each
// rank keeps a heartbeat counter in the store (a second store connection,
// bumped every second) and leaves a message there when it fails cleanly
// (reportFailure), so survivors can say "rank 1 stopped responding" or
// "rank 1 failed: <its error>". After a failure every later call fails at once
// with the same message (no hang on a broken group).
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "distributed/collectives.h"

namespace laxray {

struct C10dState;  // the stores and the backend (c10d types stay in process_group.cc)

struct ProcessGroupOptions {
  int rank = 0;
  int worldSize = 1;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 29500;
  std::string backend = "gloo";  // "gloo" (CPU tensors) | "nccl" (CUDA tensors)
  // Rendezvous and collective timeout: a peer that does not arrive in time fails the job.
  std::chrono::milliseconds timeout{60000};
  // This process's device: "cpu" with Gloo, "cuda:<LOCAL_RANK>" with NCCL.
  std::string device = "cpu";
  // Gradients are all-reduced in flattened buckets of at most this many bytes (DDP's 25 MB).
  int64_t bucketBytes = 25ll << 20;
};

// Throws std::invalid_argument naming the setting (RANK, WORLD_SIZE,
// MASTER_PORT, backend/device) when `options` cannot work, before any network use.
void checkProcessGroupOptions(const ProcessGroupOptions& options);

class DataParallelGroup final : public Collectives {
 public:
  // Blocks until every rank has joined (at most options.timeout), then
  // connects the backend. Throws std::runtime_error with what went wrong
  // (port in use, rank 0 unreachable, ranks missing) otherwise.
  explicit DataParallelGroup(const ProcessGroupOptions& options);
  ~DataParallelGroup() override;
  DataParallelGroup(const DataParallelGroup&) = delete;
  DataParallelGroup& operator=(const DataParallelGroup&) = delete;

  int rank() const override { return options_.rank; }
  int worldSize() const override { return options_.worldSize; }
  const ProcessGroupOptions& options() const { return options_; }
  torch::Device device() const { return device_; }

  std::vector<double> sumOverRanks(const std::vector<double>& values, const std::string& what) override;
  void averageOverRanks(const std::vector<torch::Tensor>& tensors, const std::string& what) override;

  // Copies rank 0's values into every rank's tensors (same shapes and dtypes on every rank), bucketed.
  void broadcastFromRank0(const std::vector<torch::Tensor>& tensors, const std::string& what);
  // Rank 0's bytes, on every rank (`bytes` is ignored on the others).
  std::string broadcastBytes(const std::string& bytes, const std::string& what);
  // Every rank's bytes, by rank.
  std::vector<std::string> allGatherBytes(const std::string& bytes, const std::string& what);
  // Returns once every rank has called it (or throws after the timeout).
  void barrier(const std::string& what);

  // Leaves `message` in the store for the other ranks' error messages (best effort).
  void reportFailure(const std::string& message);
  // Stops the heartbeat and releases the backend; later calls throw. Idempotent.
  void shutdown();

 private:
  void connectStore();
  void createBackend();
  void startHeartbeat();
  // Runs one collective; on failure marks the group broken and throws the diagnosis.
  template <typename Start>
  void runCollective(const std::string& what, Start&& start);
  void throwIfUnusable(const std::string& what) const;
  std::string diagnose(const std::string& what, const std::string& cause);
  torch::Tensor toComm(const torch::Tensor& t) const;

  ProcessGroupOptions options_;
  torch::Device device_{torch::kCPU};
  torch::Device commDevice_{torch::kCPU};  // where collective buffers live (the backend's device)
  std::unique_ptr<C10dState> c10d_;
  std::mutex mutex_;  // one collective at a time, in call order
  std::string broken_;  // non-empty: the failure every later call reports
  bool closed_ = false;
  std::pair<int64_t, int64_t> checkedLayout_{-1, -1};  // (tensors, elements) of the last averaged set

  std::thread heartbeat_;
  std::mutex heartbeatMutex_;
  std::condition_variable heartbeatWake_;
  bool stopHeartbeat_ = false;
};

}  // namespace laxray
