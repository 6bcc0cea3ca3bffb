// The few places where c10d differs between LibTorch 1.13 (Debian) and 2.x
// (pip, CUDA). Everything else in native/distributed/ uses c10d directly.
//
//   1.13: ProcessGroupGloo / ProcessGroupNCCL derive from c10d::ProcessGroup,
//         their Options from ProcessGroup::Options.
//   2.x:  ProcessGroup became a front that dispatches to backends; Gloo and
//         NCCL derive from c10d::Backend (same collective signatures, same
//         Options::create(timeout), createDeviceForHostname(host[, lazyInit])).
//   both: TCPStore(host, TCPStoreOptions), PrefixStore, c10d::Work::wait(),
//         AllreduceOptions / BroadcastOptions / AllgatherOptions / BarrierOptions.
//
// The build defines USE_C10D_GLOO / USE_C10D_NCCL (the guards of LibTorch's
// own headers) and LAXRAY_WITH_GLOO / LAXRAY_WITH_NCCL when the headers exist
// (scripts/libtorch.mjs).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>

#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#if LAXRAY_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if LAXRAY_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace laxray::c10d_compat {

// The common base of the Gloo and NCCL process groups: what collectives are called on.
#if TORCH_VERSION_MAJOR >= 2
using CollectiveBackend = c10d::Backend;
#else
using CollectiveBackend = c10d::ProcessGroup;
#endif

}  // namespace laxray::c10d_compat
