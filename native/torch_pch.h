// Precompiled for every translation unit of the addon (binding.gyp's
// torch_pch action; `-include`d by the compiler): parsing torch/torch.h is
// most of each file's compile time.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>
