// libFuzzer entry point (built by ops/fuzz.sh with clang).
#include <cstddef>
#include <cstdint>

#include "google/protobuf/stubs/logging.h"
#include "tests/fuzz/user_record_fuzz_target.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // protobuf logs every invalid UTF-8 string it meets; discard that noise.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  encore::fuzz::DecodeEncodeApply(data, size);
  return 0;
}
