#include "distributed/process_group.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <stdexcept>

#include "compat.h"
#include "distributed/c10d_compat.h"
#include "runtime.h"

#if LAXRAY_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace laxray {

struct C10dState {
  c10::intrusive_ptr<c10d::Store> store;    // prefixed; the rendezvous and the backend use it
  c10::intrusive_ptr<c10d::Store> monitor;  // a second connection: heartbeats and failure reports
  c10::intrusive_ptr<c10d_compat::CollectiveBackend> backend;
};

namespace {

constexpr auto kHeartbeatInterval = std::chrono::milliseconds(1000);
constexpr int kSilentBeats = 3;  // a rank whose heartbeat did not move for this many intervals has stopped
const char* const kPrefix = "laxray";

std::string messageOf(const std::exception& e) {
  if (const auto* error = dynamic_cast<const c10::Error*>(&e)) return errorMessageOf(*error);
  return e.what();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool isLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

std::string seconds(std::chrono::milliseconds ms) {
  std::ostringstream out;
  out << static_cast<double>(ms.count()) / 1000.0 << " s";
  return out.str();
}

std::vector<uint8_t> bytesOf(const std::string& s) { return {s.begin(), s.end()}; }

std::string heartbeatKey(int rank) { return "heartbeat/" + std::to_string(rank); }
std::string failureKey(int rank) { return "failure/" + std::to_string(rank); }

c10d::TCPStoreOptions storeOptions(const ProcessGroupOptions& o, bool isServer, bool waitWorkers) {
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(o.masterPort);
  so.isServer = isServer;
  if (waitWorkers) so.numWorkers = static_cast<std::size_t>(o.worldSize);
  so.waitWorkers = waitWorkers;
  so.timeout = o.timeout;
  return so;
}

// What a failed rendezvous means for the person starting the job. `reachedStore`:
// the store was up and this rank connected, but the backend's own rendezvous
// (every rank's address, through the store) did not complete.
std::string rendezvousError(const ProcessGroupOptions& o, const std::string& cause, bool reachedStore = false) {
  const std::string where = o.masterAddr + ":" + std::to_string(o.masterPort);
  if (contains(cause, "Address already in use") || contains(cause, "errno: 98")) {
    return "MASTER_PORT " + std::to_string(o.masterPort) + " is already in use on this machine (rank 0 hosts the rendezvous at " +
           where + "): choose a free port with --master-port / MASTER_PORT, or stop the job that holds it (" + cause + ")";
  }
  if (reachedStore && o.rank != 0) {
    return "rank " + std::to_string(o.rank) + " reached the rendezvous at " + where + " but not all WORLD_SIZE = " +
           std::to_string(o.worldSize) + " processes joined within " + seconds(o.timeout) +
           ": start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE (" + cause + ")";
  }
  if (o.rank == 0) {
    return "the rendezvous at " + where + " did not complete within " + seconds(o.timeout) + ": rank 0 waited for WORLD_SIZE = " +
           std::to_string(o.worldSize) + " processes, but not all joined. Start every rank with the same MASTER_ADDR, " +
           "MASTER_PORT and WORLD_SIZE, or raise the timeout (distributed.timeoutMs) (" + cause + ")";
  }
  return "rank " + std::to_string(o.rank) + " could not join the rendezvous at " + where + " within " + seconds(o.timeout) +
         ": check MASTER_ADDR and MASTER_PORT and that rank 0 is running (" + cause + ")";
}

// The transport Gloo binds to: GLOO_SOCKET_IFNAME, else loopback for a job on
// one machine, else this host's own address (what torch.distributed does).
#if LAXRAY_WITH_GLOO
std::shared_ptr<::gloo::transport::Device> glooDevice(const ProcessGroupOptions& o) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0') {
    std::string first(ifname);
    first = first.substr(0, first.find(','));
    return c10d::ProcessGroupGloo::createDeviceForInterface(first);
  }
  if (isLoopback(o.masterAddr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

// Consecutive tensors of one dtype, at most `bucketBytes` together (a larger tensor is a bucket of its own).
std::vector<std::vector<torch::Tensor>> buckets(const std::vector<torch::Tensor>& tensors, int64_t bucketBytes) {
  std::vector<std::vector<torch::Tensor>> out;
  int64_t bytes = 0;
  for (const torch::Tensor& t : tensors) {
    const int64_t size = t.numel() * static_cast<int64_t>(t.element_size());
    const bool fits = !out.empty() && out.back().front().scalar_type() == t.scalar_type() && bytes + size <= bucketBytes;
    if (!fits) {
      out.emplace_back();
      bytes = 0;
    }
    out.back().push_back(t);
    bytes += size;
  }
  return out;
}

torch::Tensor flatten(const std::vector<torch::Tensor>& bucket) {
  std::vector<torch::Tensor> flat;
  flat.reserve(bucket.size());
  for (const torch::Tensor& t : bucket) flat.push_back(t.detach().reshape({-1}));
  return torch::cat(flat);
}

void unflattenInto(const torch::Tensor& flat, const std::vector<torch::Tensor>& bucket) {
  torch::NoGradGuard noGrad;
  int64_t offset = 0;
  for (const torch::Tensor& t : bucket) {
    const int64_t n = t.numel();
    torch::Tensor target = t;  // shares storage with the caller's tensor
    target.copy_(flat.narrow(0, offset, n).view(t.sizes()));
    offset += n;
  }
}

}  // namespace

void checkProcessGroupOptions(const ProcessGroupOptions& o) {
  if (o.worldSize < 1) {
    throw std::invalid_argument("WORLD_SIZE must be at least 1, got " + std::to_string(o.worldSize));
  }
  if (o.rank < 0 || o.rank >= o.worldSize) {
    throw std::invalid_argument("RANK " + std::to_string(o.rank) + " is out of range for WORLD_SIZE " + std::to_string(o.worldSize) +
                                " (ranks are 0.." + std::to_string(o.worldSize - 1) + ")");
  }
  if (o.masterPort < 1 || o.masterPort > 65535) {
    throw std::invalid_argument("MASTER_PORT must be a TCP port 1..65535, got " + std::to_string(o.masterPort));
  }
  if (o.masterAddr.empty()) throw std::invalid_argument("MASTER_ADDR is empty: give rank 0's host name or address");
  if (o.timeout.count() <= 0) throw std::invalid_argument("the distributed timeout must be > 0 ms");
  if (o.bucketBytes < 1) throw std::invalid_argument("bucketBytes must be >= 1");
  const bool cuda = o.device.rfind("cuda", 0) == 0;
  if (o.backend == "gloo") {
    if (cuda) {
      throw std::invalid_argument("backend 'gloo' reduces CPU tensors but this process trains on " + o.device +
                                  ": use backend 'nccl' for CUDA training, or device 'cpu' with Gloo");
    }
#if !LAXRAY_WITH_GLOO
    throw std::invalid_argument(
        "this laxray build has no Gloo backend (LibTorch's Gloo headers were missing when it was built): on Debian install "
        "libgloo-dev and rebuild (npm run build:native)");
#endif
  } else if (o.backend == "nccl") {
    if (!cuda) {
      throw std::invalid_argument("backend 'nccl' reduces CUDA tensors but this process trains on " + o.device +
                                  ": use backend 'gloo' for CPU training, or a CUDA device");
    }
#if !LAXRAY_WITH_NCCL
    throw std::invalid_argument(
        "this laxray build has no NCCL backend: build against a CUDA LibTorch with NCCL headers (see README, Building for "
        "CUDA), or use backend 'gloo' on the CPU");
#endif
  } else {
    throw std::invalid_argument("backend must be 'gloo' or 'nccl', got '" + o.backend + "'");
  }
}

DataParallelGroup::DataParallelGroup(const ProcessGroupOptions& options) : options_(options), c10d_(new C10dState()) {
  checkProcessGroupOptions(options_);
  device_ = resolveDevice(options_.device);
  commDevice_ = options_.backend == "nccl" ? device_ : torch::Device(torch::kCPU);
  connectStore();
  createBackend();
  startHeartbeat();
}

DataParallelGroup::~DataParallelGroup() {
  try {
    shutdown();
  } catch (...) {
    // nothing to report to from a destructor
  }
}

void DataParallelGroup::connectStore() {
  try {
    auto tcp = c10::make_intrusive<c10d::TCPStore>(options_.masterAddr, storeOptions(options_, options_.rank == 0, true));
    c10d_->store = c10::make_intrusive<c10d::PrefixStore>(kPrefix, tcp);
    auto monitor = c10::make_intrusive<c10d::TCPStore>(options_.masterAddr, storeOptions(options_, false, false));
    c10d_->monitor = c10::make_intrusive<c10d::PrefixStore>(std::string(kPrefix) + "/monitor", monitor);
  } catch (const std::exception& e) {
    throw std::runtime_error(rendezvousError(options_, messageOf(e)));
  }
}

void DataParallelGroup::createBackend() {
  try {
    if (options_.backend == "gloo") {
#if LAXRAY_WITH_GLOO
      auto glooOptions = c10d::ProcessGroupGloo::Options::create(options_.timeout);
      glooOptions->devices.push_back(glooDevice(options_));
      glooOptions->threads = 2;
      c10d_->backend = c10::make_intrusive<c10d::ProcessGroupGloo>(c10d_->store, options_.rank, options_.worldSize, glooOptions);
#endif
    } else {
#if LAXRAY_WITH_NCCL
      // Blocking waits make a timed-out NCCL collective throw here (instead of
      // the watchdog tearing the process down), so the error can name the rank.
      setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
      setenv("NCCL_BLOCKING_WAIT", "1", 0);
      c10::cuda::set_device(device_.index());
      auto ncclOptions = c10d::ProcessGroupNCCL::Options::create();
      ncclOptions->timeout = options_.timeout;
      c10d_->backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(c10d_->store, options_.rank, options_.worldSize, ncclOptions);
#endif
    }
  } catch (const std::exception& e) {
    throw std::runtime_error(rendezvousError(options_, options_.backend + ": " + messageOf(e), true));
  }
  if (!c10d_->backend) throw std::runtime_error("no " + options_.backend + " backend in this build");
}

void DataParallelGroup::startHeartbeat() {
  heartbeat_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(heartbeatMutex_);
    while (!stopHeartbeat_) {
      try {
        c10d_->monitor->add(heartbeatKey(options_.rank), 1);
      } catch (...) {
        return;  // the store is gone (rank 0 ended): collectives report it
      }
      heartbeatWake_.wait_for(lock, kHeartbeatInterval, [this] { return stopHeartbeat_; });
    }
  });
}

void DataParallelGroup::shutdown() {
  {
    std::lock_guard<std::mutex> lock(heartbeatMutex_);
    stopHeartbeat_ = true;
  }
  heartbeatWake_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_) return;
  closed_ = true;
  c10d_->backend.reset();
  c10d_->monitor.reset();
  c10d_->store.reset();
}

void DataParallelGroup::throwIfUnusable(const std::string& what) const {
  if (closed_) throw std::runtime_error(what + ": the process group was closed");
  if (!broken_.empty()) throw std::runtime_error(broken_);
}

template <typename Start>
void DataParallelGroup::runCollective(const std::string& what, Start&& start) {
  try {
    c10::intrusive_ptr<c10d::Work> work = start(*c10d_->backend);
    work->wait();
  } catch (const std::exception& e) {
    broken_ = diagnose(what, messageOf(e));
    throw std::runtime_error(broken_);
  }
}

std::string DataParallelGroup::diagnose(const std::string& what, const std::string& cause) {
  const int world = options_.worldSize;
  std::ostringstream out;
  out << what << " failed on rank " << options_.rank << " of " << world << ": ";
  std::vector<std::string> reports;
  std::vector<int> silent;
  try {
    for (int r = 0; r < world; ++r) {
      if (r == options_.rank || !c10d_->monitor->check({failureKey(r)})) continue;
      std::vector<uint8_t> message = c10d_->monitor->get(failureKey(r));
      reports.push_back("rank " + std::to_string(r) + " failed: " + std::string(message.begin(), message.end()));
    }
    if (reports.empty()) {
      std::vector<int64_t> before(world), after(world);
      for (int r = 0; r < world; ++r) before[r] = c10d_->monitor->add(heartbeatKey(r), 0);
      std::this_thread::sleep_for(kHeartbeatInterval * kSilentBeats);
      for (int r = 0; r < world; ++r) after[r] = c10d_->monitor->add(heartbeatKey(r), 0);
      for (int r = 0; r < world; ++r) {
        if (r != options_.rank && after[r] == before[r]) silent.push_back(r);
      }
    }
  } catch (const std::exception&) {
    out << "lost contact with rank 0, which hosts the rendezvous store at " << options_.masterAddr << ":" << options_.masterPort
        << ": rank 0 has stopped (killed, out of memory or crashed; see its output) (" << cause << ")";
    return out.str();
  }
  if (!reports.empty()) {
    for (size_t i = 0; i < reports.size(); ++i) out << (i ? "; " : "") << reports[i];
  } else if (!silent.empty()) {
    for (size_t i = 0; i < silent.size(); ++i) out << (i ? ", " : "") << "rank " << silent[i];
    out << (silent.size() == 1 ? " has" : " have") << " stopped (no heartbeat for " << kSilentBeats
        << " s: killed, out of memory or crashed; see its output)";
  } else {
    out << "every rank is still alive, so one is stuck or far behind the others (the collective timeout is "
        << seconds(options_.timeout) << ", distributed.timeoutMs)";
  }
  out << " (" << cause << ")";
  return out.str();
}

torch::Tensor DataParallelGroup::toComm(const torch::Tensor& t) const { return t.to(commDevice_); }

std::vector<double> DataParallelGroup::sumOverRanks(const std::vector<double>& values, const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  throwIfUnusable(what);
  if (values.empty()) return {};
  std::vector<torch::Tensor> tensors{toComm(torch::tensor(values, torch::kDouble))};
  runCollective(what, [&](c10d_compat::CollectiveBackend& b) { return b.allreduce(tensors); });
  torch::Tensor sum = tensors[0].to(torch::kCPU).contiguous();
  return {sum.data_ptr<double>(), sum.data_ptr<double>() + sum.numel()};
}

void DataParallelGroup::averageOverRanks(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  throwIfUnusable(what);
  int64_t elements = 0;
  for (const torch::Tensor& t : tensors) elements += t.numel();
  const std::pair<int64_t, int64_t> layout{static_cast<int64_t>(tensors.size()), elements};
  if (layout != checkedLayout_) {
    // Every rank must reduce the same tensors: compare (count, elements) once per layout.
    std::vector<torch::Tensor> extremes{toComm(torch::tensor({static_cast<double>(layout.first), static_cast<double>(layout.second),
                                                              -static_cast<double>(layout.first), -static_cast<double>(layout.second)},
                                                             torch::kDouble))};
    c10d::AllreduceOptions maxOptions;
    maxOptions.reduceOp = c10d::ReduceOp::MAX;
    runCollective(what, [&](c10d_compat::CollectiveBackend& b) { return b.allreduce(extremes, maxOptions); });
    torch::Tensor e = extremes[0].to(torch::kCPU);
    const double maxCount = e[0].item<double>(), maxElements = e[1].item<double>();
    const double minCount = -e[2].item<double>(), minElements = -e[3].item<double>();
    if (maxCount != minCount || maxElements != minElements) {
      broken_ = what + ": the ranks hold different gradients (" + std::to_string(static_cast<int64_t>(minCount)) + ".." +
                std::to_string(static_cast<int64_t>(maxCount)) + " tensors, " + std::to_string(static_cast<int64_t>(minElements)) +
                ".." + std::to_string(static_cast<int64_t>(maxElements)) +
                " elements): every rank must train the same model with the same frozen parts";
      throw std::runtime_error(broken_);
    }
    checkedLayout_ = layout;
  }
  // Start every bucket's all-reduce, then wait for them in order: Gloo runs them on its own threads.
  struct Pending {
    std::vector<torch::Tensor> bucket;
    std::vector<torch::Tensor> flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Pending> pending;
  try {
    for (auto& bucket : buckets(tensors, options_.bucketBytes)) {
      Pending p{bucket, {toComm(flatten(bucket))}, {}};
      p.work = c10d_->backend->allreduce(p.flat);
      pending.push_back(std::move(p));
    }
    for (Pending& p : pending) p.work->wait();
  } catch (const std::exception& e) {
    broken_ = diagnose(what, messageOf(e));
    throw std::runtime_error(broken_);
  }
  const double scale = 1.0 / options_.worldSize;
  for (Pending& p : pending) unflattenInto(p.flat[0].mul_(scale), p.bucket);
}

void DataParallelGroup::broadcastFromRank0(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  throwIfUnusable(what);
  for (auto& bucket : buckets(tensors, options_.bucketBytes)) {
    std::vector<torch::Tensor> flat{toComm(flatten(bucket))};
    c10d::BroadcastOptions root;
    root.rootRank = 0;
    runCollective(what, [&](c10d_compat::CollectiveBackend& b) { return b.broadcast(flat, root); });
    if (options_.rank != 0) unflattenInto(flat[0], bucket);
  }
}

std::string DataParallelGroup::broadcastBytes(const std::string& bytes, const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  throwIfUnusable(what);
  c10d::BroadcastOptions root;
  root.rootRank = 0;
  std::vector<torch::Tensor> length{toComm(torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kLong))};
  runCollective(what, [&](c10d_compat::CollectiveBackend& b) { return b.broadcast(length, root); });
  const int64_t n = length[0].to(torch::kCPU).item<int64_t>();
  if (n == 0) return {};
  torch::Tensor host = options_.rank == 0 ? torch::from_blob(const_cast<char*>(bytes.data()), {n}, torch::kUInt8).clone()
                                          : torch::empty({n}, torch::kUInt8);
  std::vector<torch::Tensor> data{toComm(host)};
  runCollective(what, [&](c10d_compat::CollectiveBackend& b) { return b.broadcast(data, root); });
  torch::Tensor out = data[0].to(torch::kCPU).contiguous();
  return {reinterpret_cast<const char*>(out.data_ptr<uint8_t>()), static_cast<size_t>(n)};
}

std::vector<std::string> DataParallelGroup::allGatherBytes(const std::string& bytes, const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  throwIfUnusable(what);
  const int world = options_.worldSize;
  auto gather = [&](const torch::Tensor& local) {
    std::vector<torch::Tensor> input{toComm(local)};
    std::vector<std::vector<torch::Tensor>> output(1);
    for (int r = 0; r < world; ++r) output[0].push_back(torch::empty_like(input[0]));
    runCollective(what, [&](c10d_compat::CollectiveBackend& b) { return b.allgather(output, input); });
    return output[0];
  };
  std::vector<int64_t> lengths;
  for (const torch::Tensor& t : gather(torch::tensor({static_cast<int64_t>(bytes.size())}, torch::kLong))) {
    lengths.push_back(t.to(torch::kCPU).item<int64_t>());
  }
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  std::vector<std::string> out(world);
  if (longest == 0) return out;
  torch::Tensor local = torch::zeros({longest}, torch::kUInt8);
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(local.data_ptr<uint8_t>()));
  std::vector<torch::Tensor> all = gather(local);
  for (int r = 0; r < world; ++r) {
    torch::Tensor host = all[r].to(torch::kCPU).contiguous();
    out[r].assign(reinterpret_cast<const char*>(host.data_ptr<uint8_t>()), static_cast<size_t>(lengths[r]));
  }
  return out;
}

void DataParallelGroup::barrier(const std::string& what) {
  std::lock_guard<std::mutex> lock(mutex_);
  throwIfUnusable(what);
  // An all-reduce of one number: works alike on Gloo and NCCL, and on this group's device.
  std::vector<torch::Tensor> one{toComm(torch::ones({1}, torch::kDouble))};
  runCollective(what, [&](c10d_compat::CollectiveBackend& b) { return b.allreduce(one); });
}

void DataParallelGroup::reportFailure(const std::string& message) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (closed_ || !c10d_->monitor) return;
  try {
    c10d_->monitor->set(failureKey(options_.rank), bytesOf(message.substr(0, 2000)));
  } catch (...) {
    // best effort: the store may be gone already
  }
}

}  // namespace laxray
