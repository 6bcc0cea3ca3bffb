{
  # The one build of the addon. LibTorch's location and flags come from
  # scripts/libtorch.mjs (LIBTORCH env -> python torch -> Debian libtorch-dev).
  "variables": {
    # 1: also compile the test hooks (native/bindings/test_hooks/, bindings
    # only tests call). scripts/build.mjs sets it through node-gyp's
    # npm_config_laxray_test_hooks: 1 for `npm run build:native` and setup, 0
    # for the release binary (`npm run prebuildify`). A plain node-gyp build
    # (an install from source) leaves them out. It only adds sources: every
    # file compiles with the same flags either way (one precompiled header,
    # one ccache).
    "laxray_test_hooks%": 0
  },
  "targets": [
    {
      "target_name": "laxray",
      "sources": ["<!@(node scripts/native-sources.mjs)"],
      "conditions": [
        ["laxray_test_hooks==1", {"sources": ["<!@(node scripts/native-sources.mjs --test-hooks)"]}]
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native",
        "<!@(node scripts/libtorch.mjs --include-dirs)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "<!@(node scripts/libtorch.mjs --defines)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-deprecated-declarations",
                    "-Winvalid-pch", "-include", "<(INTERMEDIATE_DIR)/torch_pch.h"],
      "actions": [
        {
          # torch/torch.h precompiled once with the target's own flags (GCC uses
          # <name>.h.gch beside the -include'd header; a stale or mismatched one
          # is ignored with a warning, never miscompiled).
          "action_name": "torch_pch",
          "inputs": ["native/torch_pch.h", "scripts/libtorch.mjs"],
          "outputs": ["<(INTERMEDIATE_DIR)/torch_pch.h.gch"],
          "action": ["sh", "-c", "cp native/torch_pch.h <(INTERMEDIATE_DIR)/torch_pch.h && $(CXX) $(DEFS_$(BUILDTYPE)) $(INCS_$(BUILDTYPE)) $(CFLAGS_$(BUILDTYPE)) $(filter-out -include -Winvalid-pch %torch_pch.h,$(CFLAGS_CC_$(BUILDTYPE))) -x c++-header native/torch_pch.h -o <(INTERMEDIATE_DIR)/torch_pch.h.gch"]
        }
      ],
      "libraries": ["<!@(node scripts/libtorch.mjs --libraries)"],
      "ldflags": ["<!@(node scripts/libtorch.mjs --ldflags)"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      }
    }
  ]
}
