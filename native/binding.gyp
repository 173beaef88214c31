{
  "targets": [
    {
      "target_name": "native",
      "sources": [
        "src/addon.cc",
        "src/args.cc",
        "src/errors.cc",
        "src/socket.cc",
        "src/select.cc",
        "src/poll.cc",
        "src/process.cc",
        "src/threads.cc",
        "src/signals.cc",
        "src/counts.cc",
        "src/uring.cc",
        "src/cpu.cc",
        "src/forkhold.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_ENABLE_TYPE_CHECK_ON_AS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # A call that returns while its worker thread is being stopped (a recv woken by shutdown
        # as the process exits) cannot throw into JavaScript any more; without this, trying to
        # is a C++ exception that ends the whole process with abort().
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      },
      "conditions": [
        ["OS=='linux'", { "sources": ["src/epoll.cc"] }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd' or OS=='netbsd'", { "sources": ["src/kqueue.cc"] }]
      ]
    }
  ]
}
